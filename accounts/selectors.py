"""Reads of the accounts app."""

import zoneinfo
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import User


def webhook_url(*, token: str, request: HttpRequest | None = None, base: str = "") -> str:
    """PUBLIC_URL when set, else the address the caller reached us on (or `base`)."""
    path = f"/webhook/{token}"
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL + path
    if request is not None:
        return request.build_absolute_uri(path)
    return base.rstrip("/") + path


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names a trader may choose (read from the zone database once)."""
    # "localtime" is whatever this machine is set to; "Factory" is no place.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


def user_list(*, search: str = "", is_active: bool | None = None) -> QuerySet[User]:
    users = User.objects.all()
    if search:
        users = users.filter(Q(username__icontains=search) | Q(email__icontains=search) | Q(name__icontains=search))
    if is_active is not None:
        users = users.filter(is_active=is_active)
    return users.order_by("pk")


def admin_stats() -> dict[str, int]:
    since = timezone.now() - timedelta(hours=24)
    return User.objects.aggregate(
        users=Count("pk"),
        active_users=Count("pk", filter=Q(is_active=True)),
        users_signed_in_24h=Count("pk", filter=Q(last_login__gte=since)),
    )


def webhook_token_options(*, user: User):
    """The user's webhook token settings (dedupe, TradingView only); None for the legacy token."""
    from .models import WebhookToken

    if User.webhook_token.is_cached(user):
        # Read with the user by webhook_token_user().
        return user.webhook_token
    return WebhookToken.objects.owned_by(user).only("dedupe_identical_bodies", "tradingview_only").first()
