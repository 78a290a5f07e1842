"""What every staff surface (the admin, /api/admin/, the all-tenants stream) asks of an operator
beyond is_staff: a recent sign-in with a second factor, and the Django model permission the admin
asks for an act."""

import time
from types import SimpleNamespace

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.urls import reverse

# The session key holding when its user last signed in (set on every sign-in by accounts).
SIGNED_IN_AT = "signed_in_at"


def staff_signin_fresh(request_or_session) -> bool:
    """Whether the session (or the request's session) signed in less than ADMIN_REAUTH_MINUTES
    ago: a staff session left open somewhere cannot act for operators after that. A request or
    session without a sign-in time (an API key's, one from before the rule) is not fresh."""
    session = getattr(request_or_session, "session", request_or_session)
    if session is None:
        return False
    signed_in_at = session.get(SIGNED_IN_AT)
    if isinstance(signed_in_at, bool) or not isinstance(signed_in_at, int | float):
        return False
    return 0 <= time.time() - signed_in_at < settings.ADMIN_REAUTH_SECONDS


def staff_may(user, model, act: str) -> bool:
    """What ModelAdmin.has_<act>_permission answers: viewing is allowed by view or change."""
    opts = model._meta
    acts = ("view", "change") if act == "view" else (act,)
    return any(user.has_perm(f"{opts.app_label}.{get_permission_codename(each, opts)}") for each in acts)


def staff_second_factor(request_or_session, user) -> bool:
    """Whether this session's sign-in had a second factor, as STAFF_MFA_REQUIRED asks of staff.
    allauth records every step of a sign-in in the session: "mfa" after a TOTP or recovery code
    (allauth.mfa), "socialaccount" with its provider after Google, whose sign-in carries Google's
    own second factor. A password alone is neither."""
    if not settings.STAFF_MFA_REQUIRED:
        return True
    session = getattr(request_or_session, "session", request_or_session)
    if session is None or user is None:
        return False
    steps = {
        (record.get("method"), record.get("provider"))
        for record in get_authentication_records(SimpleNamespace(session=session), user)
    }
    return any(method == "mfa" for method, _ in steps) or ("socialaccount", "google") in steps


def staff_second_factor_help() -> str:
    """What a staff session without a second factor is told, with where to enrol."""
    return (
        "Operators sign in with a second factor (STAFF_MFA_REQUIRED): add an authenticator app at "
        f"{reverse('mfa_index')}, then sign in again with its code (or with Google)."
    )
