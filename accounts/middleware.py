import time
from urllib.parse import urlencode

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class ProviderNotConfiguredMiddleware:
    """allauth raises SocialApp.DoesNotExist (a 500) when a sign-in starts for a
    provider without credentials; the person is sent back to /login with the reason."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SocialApp.DoesNotExist):
            return None
        messages.error(request, "Google sign-in is not set up on this server.")
        return redirect("/login")


SIGNED_IN_AT = "signed_in_at"


def signed_in_recently(request: HttpRequest) -> bool:
    signed_in_at = request.session.get(SIGNED_IN_AT)
    return isinstance(signed_in_at, int | float) and time.time() - signed_in_at < settings.ADMIN_REAUTH_SECONDS


class RecentSignInForAdminMiddleware:
    """Staff use the admin only within ADMIN_REAUTH_SECONDS of signing in: a session left
    open on some machine cannot change users, accounts or keys."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The path first: other requests (webhooks above all) never load the session here.
        if request.path.startswith("/admin/") and request.user.is_staff and not signed_in_recently(request):
            messages.info(request, "Sign in again to use the admin.")
            return redirect(f"/login?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
