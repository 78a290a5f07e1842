"""allauth's MFA forms, with django-axes' lockout counting their wrong codes."""

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError

LOCKED = "Too many failed sign-ins for this username or from this address: try again later."


class LockoutCountingAuthenticateForm(AuthenticateForm):
    """The second step of a sign-in (MFA_FORMS["authenticate"]). A wrong, reused or expired
    code is a failed sign-in to django-axes, counted with the password failures of the same
    username and address; a locked-out username or address is refused before a code is checked.
    allauth's own limit (ACCOUNT_RATE_LIMITS "login_failed") applies as well."""

    def clean_code(self) -> str:
        credentials = {"username": self.user.get_username()}
        if AxesProxyHandler.is_locked(context.request, credentials):
            raise ValidationError(LOCKED, code="locked")
        try:
            return super().clean_code()
        except ValidationError:
            user_login_failed.send(sender=__name__, credentials=credentials, request=context.request)
            raise
