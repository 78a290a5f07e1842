"""What every staff surface (the admin, /api/admin/, the all-tenants stream) asks of an operator
beyond is_staff: a recent sign-in, and the Django model permission the admin asks for an act."""

import time

from django.conf import settings
from django.contrib.auth import get_permission_codename

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
