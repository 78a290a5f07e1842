import zoneinfo
from contextlib import suppress
from urllib.parse import urlencode

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from mt5saas.staff import staff_second_factor, staff_second_factor_help, staff_signin_fresh

from .services import TimeZoneUnknown, user_set_time_zone


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


class RecentSignInForAdminMiddleware:
    """Staff use the admin only within ADMIN_REAUTH_SECONDS of signing in, and (with
    STAFF_MFA_REQUIRED) of a sign-in with a second factor: a session left open on some machine,
    or a guessed password, cannot change users, accounts or keys."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The path first: other requests (webhooks above all) never load the session here.
        if not (request.path.startswith("/admin/") and request.user.is_staff):
            return self.get_response(request)
        if not staff_signin_fresh(request):
            messages.info(request, "Sign in again to use the admin.")
            return redirect(f"/login?{urlencode({'next': request.get_full_path()})}")
        if not staff_second_factor(request, request.user):
            context = {"status": 403, "detail": staff_second_factor_help(), "enrol": reverse("mfa_index")}
            return render(request, "accounts/second_factor_required.html", context, status=403)
        return self.get_response(request)


BROWSER_ZONE_COOKIE = "time_zone"  # set by the pages' script (app.js) while the user has no zone


class TimeZoneMiddleware:
    """Pages, their forms and the session's API answers read and write times in the signed-in
    trader's zone; a trader without one gets the browser's (from BROWSER_ZONE_COOKIE), UTC
    until then. A request without a session cookie (webhooks, scripts) does not load the user."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _user_zone(request)
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


def _user_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or not request.user.is_authenticated:
        return None
    user = request.user
    if not user.time_zone and (browser := request.COOKIES.get(BROWSER_ZONE_COOKIE)):
        with suppress(TimeZoneUnknown):  # a browser's name zoneinfo lacks: UTC, as before
            user_set_time_zone(user=user, name=browser, unless_set=True)
    try:
        return zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None  # a zone the database no longer has: UTC rather than an error page
