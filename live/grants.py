"""Who may open a stream, and whether what let them still holds.

A stream is checked again every LIVE_AUTH_RECHECK_S while it runs (Grant.recheck), rather than
told by an event when a key is revoked, a trader disabled, a session signed out or staff rights
taken: those change in many places (services, the admin, knox's own expiry, a password change,
a session that simply expires) and a re-check sees them all, where an event would have to be
sent from each of them. It runs on the stream's own timer, so an event costs what it cost
before; each re-check is one or two primary-key reads."""

from dataclasses import dataclass
from importlib import import_module

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from knox.models import AuthToken
from rest_framework import exceptions

from mt5saas.authentication import ApiTokenAuthentication
from mt5saas.staff import staff_second_factor, staff_second_factor_help, staff_signin_fresh

DISABLED = "This user is disabled."
NOT_STAFF = "Only operators may follow all tenants."
STALE = "Sign in again to follow all tenants (operators sign in again every ADMIN_REAUTH_MINUTES)."
KEY_GONE = "The API key was revoked or replaced."
SESSION_GONE = "The session has ended: sign in again."


class Refused(Exception):
    """Not allowed to subscribe (or no longer); `status` is the HTTP status, `close_code` the
    WebSocket's (4000 + status unless told)."""

    def __init__(self, status: int, detail: str, close_code: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.close_code = close_code or 4000 + status


@dataclass
class Grant:
    """What authorised a stream: an API key (by its digest) or a session (by its key)."""

    user: object
    token_digest: str = ""
    session_key: str = ""
    all_tenants: bool = False

    async def recheck(self) -> Refused | None:
        """None while the stream may go on; else why it must end."""
        return await database_sync_to_async(self._recheck)()

    def _recheck(self) -> Refused | None:
        if self.token_digest:
            return self._recheck_token()
        return self._recheck_session()

    def _recheck_token(self) -> Refused | None:
        # One read by primary key (the digest), joined to its user.
        row = (
            AuthToken.objects.filter(digest=self.token_digest, user_id=self.user.pk)
            .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
            .values_list("user__is_active", "user__is_staff")
            .first()
        )
        if row is None:
            return Refused(401, KEY_GONE)
        is_active, is_staff = row
        if not is_active:
            return Refused(403, DISABLED)
        if self.all_tenants and not is_staff:
            return Refused(403, NOT_STAFF)
        return None

    def _recheck_session(self) -> Refused | None:
        # Read only: unlike django.contrib.auth.get_user this never flushes or cycles the
        # session (the browser's other tabs keep it). The session row, then the user by key.
        data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=self.session_key).load()
        if str(data.get(SESSION_KEY)) != str(self.user.pk) or data.get(BACKEND_SESSION_KEY) is None:
            return Refused(401, SESSION_GONE)
        user = get_user_model().objects.filter(pk=self.user.pk).first()
        if user is None:
            return Refused(401, SESSION_GONE)
        if not user.is_active:
            return Refused(403, DISABLED)
        if not _hash_matches(data.get(HASH_SESSION_KEY) or "", user):
            return Refused(401, SESSION_GONE)  # the password changed: Django ends its sessions
        if self.all_tenants and not (user.is_staff and staff_signin_fresh(data)):
            return Refused(403, NOT_STAFF if not user.is_staff else STALE)
        if self.all_tenants and not staff_second_factor(data, user):
            return Refused(403, staff_second_factor_help())
        return None


def _hash_matches(session_hash: str, user) -> bool:
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return bool(session_hash) and any(constant_time_compare(session_hash, known) for known in hashes)


@database_sync_to_async
def _token_grant(key: str) -> Grant:
    try:
        user, token = ApiTokenAuthentication().authenticate_credentials(key.encode())
    except exceptions.PermissionDenied:
        raise Refused(403, DISABLED) from None
    except exceptions.AuthenticationFailed:
        raise Refused(401, "Invalid token.") from None
    return Grant(user=user, token_digest=token.digest)


async def authenticate(*, session, session_user, authorization: str = "", token: str = "") -> Grant:
    """The API token if one is given (a wrong one is refused, never ignored), else the session."""
    if authorization:
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "token" or not key.strip() or " " in key.strip():
            raise Refused(401, "Use 'Authorization: Token <key>'.")
        token = key.strip()
    if token:
        return await _token_grant(token)
    if session_user is None or not session_user.is_authenticated:
        raise Refused(401, "Sign in or send an API token.")
    if not session_user.is_active:
        raise Refused(403, DISABLED)
    return Grant(user=session_user, session_key=session.session_key or "")


def check_all_tenants(grant: Grant, value: str | None, session) -> bool:
    """?all=1: a staff surface, so an operator's session signed in within ADMIN_REAUTH_MINUTES,
    as the admin asks (mt5saas.staff). An API key has no sign-in time: it may not."""
    if value in (None, "", "0"):
        return False
    if value != "1":
        raise Refused(400, "all must be 0 or 1.")
    if not grant.user.is_staff:
        raise Refused(403, NOT_STAFF)
    if grant.token_digest:
        raise Refused(403, "Following all tenants needs an operator's signed-in session, not an API key.")
    if not staff_signin_fresh(session):
        raise Refused(403, STALE)
    if not staff_second_factor(session, grant.user):
        raise Refused(403, staff_second_factor_help())
    grant.all_tenants = True
    return True
