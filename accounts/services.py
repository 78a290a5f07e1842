"""Writes of the accounts app: users, webhook tokens, API tokens."""

import hmac
import logging
import re
import secrets

from django.conf import settings
from django.db import transaction
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS

from audit.models import AuditEvent
from audit.services import audit_record
from mt5saas.crypto import decrypt, encrypt, secret_digest, secret_digests

from .models import DemoCredentials, User, WebhookToken
from .selectors import time_zone_names

WEBHOOK_TOKEN_PREFIX = "whk_"
# Longer than any token we issue; a longer one is refused before any hashing.
MAX_TOKEN_LENGTH = 128

logger = logging.getLogger(__name__)


def _new_webhook_token() -> str:
    # 32 random bytes → 43 URL-safe characters after the prefix.
    return WEBHOOK_TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_token_rotate(*, user: User) -> str:
    """Issue a new webhook token for the user and return it; the old one fails at once."""
    token = _new_webhook_token()
    WebhookToken.objects.update_or_create(
        owner=user,
        defaults={"digest": secret_digest(token), "ciphertext": encrypt(token), "hint": token[:8]},
    )
    return token


# What a token adopted from the single-user bot may be: it travels in a URL path.
ADOPTABLE_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")


class TokenRefused(Exception):
    """A token that cannot become this user's; the message says why (never the token)."""


@transaction.atomic
def webhook_token_adopt(*, user: User, token: str) -> bool:
    """Make `token` (the single-user bot's WEBHOOK_TOKEN) the user's webhook token, so alerts
    that already carry it keep working; the user's previous token stops at once. Returns
    False when it already is the user's token. Raises TokenRefused for a token another user
    has, or one too short or with characters a URL path cannot carry."""
    if not ADOPTABLE_TOKEN.fullmatch(token):
        raise TokenRefused("The token must be 16 to 128 letters, digits or . _ ~ - (it is part of a URL).")
    digests = secret_digests(token)
    holder = WebhookToken.objects.filter(digest__in=digests).values_list("owner_id", flat=True).first()
    if holder is not None and holder != user.pk:
        raise TokenRefused("Another user already has this webhook token.")
    if holder == user.pk:
        return False
    WebhookToken.objects.update_or_create(
        owner=user, defaults={"digest": digests[0], "ciphertext": encrypt(token), "hint": token[:8]}
    )
    return True


def webhook_token_reveal(*, user: User) -> str:
    """The user's current webhook token, issuing the first one on first use."""
    row = WebhookToken.objects.owned_by(user).first()
    if row is None:
        return webhook_token_rotate(user=user)
    return decrypt(row.ciphertext)


# The owner of a token digest with the token's options, written out: on the webhook's path the
# ORM's compiling of the equivalent select_related() query costs several times its running.
_TOKEN_OWNER = (
    "SELECT u.*, t.id AS token_pk, t.digest AS token_digest, t.dedupe_identical_bodies AS token_dedupe,"
    " t.tradingview_only AS token_tradingview_only"
    " FROM accounts_user u JOIN accounts_webhooktoken t ON t.owner_id = u.id WHERE t.digest IN ("
)


def webhook_token_user(*, token: str) -> User | None:
    """The user a webhook token belongs to, or None for an unknown or rotated token.

    A disabled user is returned as is: the caller answers 403 rather than 404.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    if _is_legacy_token(token):
        # The single-user bot's token keeps working for the operator it belonged to, under
        # that user's rate limit like their own token, until WEBHOOK_TOKEN_ENABLED=0.
        user = User.objects.filter(is_superuser=True).order_by("pk").first()
        logger.info("webhook: legacy WEBHOOK_TOKEN used, mapped to user %s", user.pk if user else None)
        return user
    digests = secret_digests(token)
    placeholders = ", ".join(["%s"] * len(digests))
    user = next(iter(User.objects.raw(_TOKEN_OWNER + placeholders + ")", digests)), None)
    if user is None or not any(hmac.compare_digest(user.token_digest, d) for d in digests):
        return None
    if user.token_digest != digests[0]:
        # Matched under a SECRET_KEY fallback: store the current digest for next time.
        WebhookToken.objects.filter(pk=user.token_pk).update(digest=digests[0])
    # Kept with the user for webhook_token_options(): no second query on the webhook's path.
    options = WebhookToken(
        pk=user.token_pk,
        owner=user,
        dedupe_identical_bodies=bool(user.token_dedupe),
        tradingview_only=bool(user.token_tradingview_only),
    )
    User.webhook_token.related.set_cached_value(user, options)
    return user


def _is_legacy_token(token: str) -> bool:
    legacy = settings.WEBHOOK_TOKEN
    return bool(legacy) and settings.WEBHOOK_TOKEN_ENABLED and hmac.compare_digest(token.encode(), legacy.encode())


def api_token_create(*, user: User, replace: bool = False) -> str:
    """A new API key for scripts, shown to the caller once and stored only as a digest."""
    with transaction.atomic():
        if replace:
            AuthToken.objects.filter(user=user).delete()
        _, key = AuthToken.objects.create(user=user, expiry=None)
    return key


def api_token_works(*, user: User, key: str) -> bool:
    """Whether `key` is one of the user's API keys now (not revoked, not replaced)."""
    rows = AuthToken.objects.filter(user=user, token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH])
    return any(hmac.compare_digest(row.digest, hash_token(key)) for row in rows)


@transaction.atomic
def demo_credentials(*, user: User, reset: bool = False) -> dict[str, str]:
    """The demo trader's password, API key and webhook token: those issued by the last run
    while they still work (a restart must not break an alert already pasted), new ones for
    any the trader changed since, and all new with `reset` (the old ones stop at once)."""
    kept = DemoCredentials.objects.filter(user=user).first()
    password = api_token = ""
    if kept is not None and not reset:
        password, api_token = decrypt(kept.password), decrypt(kept.api_token)
        password = password if user.check_password(password) else ""
        api_token = api_token if api_token_works(user=user, key=api_token) else ""
    if not password:
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
    if not api_token:
        # A first run or a reset replaces every key; a key the trader revoked, only itself.
        api_token = api_token_create(user=user, replace=reset or kept is None)
    token = webhook_token_rotate(user=user) if reset else webhook_token_reveal(user=user)
    DemoCredentials.objects.update_or_create(
        user=user, defaults={"password": encrypt(password), "api_token": encrypt(api_token)}
    )
    return {"password": password, "api_token": api_token, "webhook_token": token}


def api_token_revoke(*, user: User, token_key: str) -> int:
    """Revoke the caller's API keys whose visible prefix is token_key; returns how many."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


class CannotDisableSelf(Exception):
    pass


class CannotChangeSuperuser(Exception):
    """An operator who is not a superuser acting on one."""


def user_set_active(*, user: User, active: bool, by: User) -> User:
    """Enable or disable a user. A disabled user cannot sign in, and their session,
    webhook token and API keys are refused from the next request on."""
    if user.pk == by.pk and not active:
        raise CannotDisableSelf("You cannot disable your own account.")
    if user.is_superuser and not by.is_superuser:
        raise CannotChangeSuperuser("Only a superuser may disable or enable a superuser.")
    was_active = User.objects.filter(pk=user.pk).values_list("is_active", flat=True).first()
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.refresh_from_db(fields=["is_active"])
    if was_active != active:
        audit_record(
            action=AuditEvent.Action.UPDATE,
            model=User._meta.label,
            object_id=user.pk,
            object_repr=str(user),
            changes={"is_active": [was_active, active]},
        )
    return user


def user_sync_profile(*, user: User, name: str, picture_url: str, email: str) -> None:
    """Copy name and picture from the identity provider; promote the ADMIN_EMAIL address."""
    fields = []
    if name and user.name != name:
        user.name, fields = name, [*fields, "name"]
    if picture_url and user.picture_url != picture_url:
        user.picture_url, fields = picture_url, [*fields, "picture_url"]
    if settings.ADMIN_EMAIL and email.lower() == settings.ADMIN_EMAIL and not user.is_superuser:
        user.is_superuser = user.is_staff = True
        fields += ["is_superuser", "is_staff"]
    if fields and user.pk:
        user.save(update_fields=fields)


def webhook_token_set_options(*, user: User, dedupe_identical_bodies: bool, tradingview_only: bool) -> None:
    webhook_token_reveal(user=user)  # the row exists from the first view of the URL on
    WebhookToken.objects.owned_by(user).update(
        dedupe_identical_bodies=dedupe_identical_bodies, tradingview_only=tradingview_only
    )


class TimeZoneUnknown(ValueError):
    """A time zone name that is not in the IANA database; the message says so."""


def user_set_time_zone(*, user: User, name: object, unless_set: bool = False) -> bool:
    """Show the user's times in the IANA zone `name`; with `unless_set` (the browser's zone)
    only if the user has none yet. Returns whether it changed. Raises TimeZoneUnknown for a
    name zoneinfo does not know."""
    name = name.strip() if isinstance(name, str) else ""
    if name not in time_zone_names():
        shown = "".join(char if char.isprintable() else "?" for char in name[:64])
        raise TimeZoneUnknown(f"{shown!r} is not a time zone: pick one from the list, e.g. Europe/London.")
    users = User.objects.filter(pk=user.pk)
    if unless_set:
        users = users.filter(time_zone="")
    changed = bool(users.exclude(time_zone=name).update(time_zone=name))
    if changed:
        user.time_zone = name
    return changed
