"""The rules every staff surface shares (the admin, /api/admin/*, the all-tenants live stream)."""

import time

from django.conf import settings

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
