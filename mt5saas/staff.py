"""What every staff surface (the admin, /api/admin/, the all-tenants stream) asks of an operator
beyond is_staff: a recent sign-in, and the Django model permission the admin asks for an act."""

import time

from django.conf import settings
from django.contrib.auth import get_permission_codename

SIGNED_IN_AT = "signed_in_at"  # set in the session at every sign-in (accounts.signals)


def staff_signin_fresh(request_or_session) -> bool:
    """True if the session (or the request's) was signed in within ADMIN_REAUTH_SECONDS."""
    session = getattr(request_or_session, "session", request_or_session)
    signed_in_at = session.get(SIGNED_IN_AT) if session is not None else None
    return isinstance(signed_in_at, int | float) and time.time() - signed_in_at < settings.ADMIN_REAUTH_SECONDS


def staff_may(user, model, act: str) -> bool:
    """What ModelAdmin.has_<act>_permission answers: viewing is allowed by view or change."""
    opts = model._meta
    acts = ("view", "change") if act == "view" else (act,)
    return any(user.has_perm(f"{opts.app_label}.{get_permission_codename(each, opts)}") for each in acts)
