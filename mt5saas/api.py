"""What every API view starts from: routing, paging, errors, staff checks and tenancy."""

from collections.abc import Mapping

from django.conf import settings
from rest_framework import exceptions, pagination, permissions, routers, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import exception_handler as drf_exception_handler

from .staff import staff_may, staff_second_factor, staff_second_factor_help, staff_signin_fresh


class OptionalSlashRouter(routers.SimpleRouter):
    """Routes answer with and without a trailing slash: the single-user bot's EA and
    scripts call them without one, browsers and DRF conventions with one."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


# The act a request is when its view names none for its action (as DRF's DjangoModelPermissions).
METHOD_ACTS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class IsStaff(permissions.BasePermission):
    """Operators, asked what the admin asks for the same act: the Django permission on the view's
    `staff_model` (`staff_acts` maps an action to its act; else the method's: view, add, change or delete;
    `staff_model = None`: any operator, as the admin's overview), and of a session a sign-in
    within ADMIN_REAUTH_MINUTES. An API key is not a session: no sign-in time, but its user's
    permissions, read on every request."""

    message = "Operators only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        if isinstance(request.successful_authenticator, SessionAuthentication) and not staff_signin_fresh(request):
            minutes = settings.ADMIN_REAUTH_SECONDS // 60
            raise exceptions.PermissionDenied(
                f"Sign in again to use the staff API: operators' sign-ins last {minutes} minutes here (/login)."
            )
        if isinstance(request.successful_authenticator, SessionAuthentication) and not staff_second_factor(
            request, user
        ):
            raise exceptions.PermissionDenied(staff_second_factor_help())
        model = view.staff_model  # every staff view names one (None: any operator)
        if model is None:
            return True
        act = getattr(view, "staff_acts", {}).get(getattr(view, "action", None)) or METHOD_ACTS.get(
            request.method, "change"
        )
        if not staff_may(user, model, act):
            raise exceptions.PermissionDenied(
                f"Operators need the 'Can {act} {model._meta.verbose_name}' permission for this."
            )
        return True


def exception_handler(exc, context):
    """Every error body is JSON with a human `detail`; validation adds `errors`."""
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


class KnownFieldsOnly:
    """A serializer mixin: a body key no field reads is a 400 naming it, never dropped
    unseen (a setting a client believes it sent may change how much is traded). Read-only
    fields are known: a client may send back what it read."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (unknown := sorted(str(key)[:40] for key in data if key not in self.fields)):
            message = "Unknown field: nothing reads it, so the request is refused rather than half applied."
            raise exceptions.ValidationError({name: [message] for name in unknown[:20]})
        return super().to_internal_value(data)


class OwnedViewSetMixin:
    """Starts every query from owned_by(request.user): a foreign id is a 404."""

    owned_model = None  # the model whose objects.owned_by() the viewset serves

    def get_queryset(self):
        return self.owned_model.objects.owned_by(self.request.user)


class OwnedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id from input, checked against the caller's own rows only."""

    def __init__(self, model, **kwargs):
        self.owned_model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.owned_model.objects.owned_by(request.user if request else None)
