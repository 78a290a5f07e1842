"""What every API view starts from: authentication, throttling, paging, errors and tenancy."""

from django.conf import settings
from knox.auth import TokenAuthentication
from rest_framework import exceptions, pagination, permissions, serializers, throttling


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


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IsStaff(permissions.BasePermission):
    message = "Operators only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def exception_handler(exc, context):
    """Every error body is JSON with a human `detail`; validation adds `errors`."""
    # Imported here: rest_framework.views reads these settings while it loads.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        detail = "Invalid input."
        if isinstance(errors, dict) and list(errors) == ["non_field_errors"]:
            detail = str(errors["non_field_errors"][0])
        elif isinstance(errors, list) and errors:
            detail, errors = str(errors[0]), {"non_field_errors": errors}
        response.data = {"detail": detail, "errors": errors}
    elif not isinstance(response.data, dict) or "detail" not in response.data:
        response.data = {"detail": str(exc)}
    return response


class OwnedViewSetMixin:
    """Starts every query from owned_by(request.user): a foreign id is a 404."""

    owned_model = None  # the model whose objects.owned_by() the viewset serves

    def get_queryset(self):
        return self.owned_model.objects.owned_by(self.request.user)

    def perform_create(self, serializer) -> None:
        serializer.save(owner=self.request.user)


class OwnedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id from input, checked against the caller's own rows only."""

    def __init__(self, model, **kwargs):
        self.owned_model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.owned_model.objects.owned_by(request.user if request else None)
