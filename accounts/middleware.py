from allauth.socialaccount.models import SocialApp
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
