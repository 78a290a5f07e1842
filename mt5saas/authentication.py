"""Authentication and throttling named in REST_FRAMEWORK settings.

Kept apart from mt5saas.api: rest_framework.views imports these classes while it
loads, so this module must not import rest_framework.views (or routers) itself.
"""

from django.conf import settings
from knox.auth import TokenAuthentication
from rest_framework import exceptions, throttling

from .net import client_ip


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token mt5_…`; keys are stored only as digests (knox)."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return super().authenticate_credentials(token)

    def validate_user(self, auth_token):
        if not auth_token.user.is_active:
            # 403, not 401: the key is right, the account is switched off.
            raise exceptions.PermissionDenied("This user is disabled.")
        return (auth_token.user, auth_token)


class ApiRateThrottle(throttling.UserRateThrottle):
    """API_RATE_LIMIT per user (per address when anonymous), read at request time."""

    scope = "api"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def get_ident(self, request) -> str:
        # DRF's own reads X-Forwarded-For from anyone: a new claimed address per request, a new limit.
        return client_ip(request)
