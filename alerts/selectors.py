"""Reads of the alerts app, and what it reads of the other apps' records (never their writes)."""

from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet

from copytrading.models import CopyEvent
from live.models import Event
from terminals.models import AccountEvent, Order, TerminalHost, TradingAccount
from webhooks.models import Signal

from .models import Alert, Delivery, Endpoint, Kind, Preference, PriceAlert

# Live events that can raise an alert: order outcomes and copy errors (not queued/sending, not successes).
ALERTABLE_EVENTS = Q(kind="order", payload__status__in=["filled", "rejected", "failed"]) | Q(
    kind="copy_event", payload__status="error"
)


def preference_map(*, user) -> dict[str, Preference]:
    rows = Preference.objects.owned_by(user).prefetch_related("endpoints")
    return {row.kind: row for row in rows}


def endpoint_list(*, user) -> QuerySet[Endpoint]:
    return Endpoint.objects.owned_by(user).order_by("pk")


def price_alert_list(*, user) -> QuerySet[PriceAlert]:
    return PriceAlert.objects.owned_by(user).select_related("account").order_by("-pk")


def alert_list(*, user) -> QuerySet[Alert]:
    return Alert.objects.owned_by(user).order_by("-pk")


def delivery_list(*, user, status: str | None = None) -> QuerySet[Delivery]:
    rows = Delivery.objects.owned_by(user).select_related("alert").order_by("-pk")
    return rows.filter(status=status) if status else rows


def alertable_accounts(*, user) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.owned_by(user).alive().order_by("pk")


# --- the sources the dispatcher reads (everyone's: server side only) ------------------------


def events_after(*, since: int, limit: int) -> list[Event]:
    """Everyone's alertable events after `since`, oldest first."""
    return list(Event.objects.filter(ALERTABLE_EVENTS, id__gt=since).order_by("id")[:limit])


def event_horizon_id(*, since: int, before: datetime) -> int:
    """The newest event id (of any kind) created before a moment; `since` if none is newer."""
    return Event.objects.filter(id__gt=since, created_at__lt=before).aggregate(m=Max("id"))["m"] or since


def raised_sources(sources) -> set[str]:
    """Those of `sources` that have raised an alert already (rows read again in the grace period)."""
    return set(Alert.objects.filter(source__in=list(sources)).values_list("source", flat=True))


def account_events_after(*, since: int, limit: int) -> list[AccountEvent]:
    rows = AccountEvent.objects.filter(id__gt=since).select_related("account").order_by("id")
    return list(rows[:limit])


def rejected_signals_after(*, since: int, limit: int) -> list[Signal]:
    # All of them (the cursor moves over accepted ones too); the caller keeps the rejected.
    return list(
        Signal.objects.filter(id__gt=since)
        .only("id", "owner_id", "status", "source", "action", "symbol", "errors", "received_at")
        .order_by("id")[:limit]
    )


def orders_by_id(ids) -> dict[int, Order]:
    return {o.pk: o for o in Order.objects.filter(pk__in=list(ids)).select_related("account")}


def offline_hosts(*, since: datetime) -> list[TerminalHost]:
    return list(TerminalHost.objects.filter(online=False, heartbeat_at__gte=since))


def host_owner_ids(*, host: TerminalHost) -> dict[int, list[str]]:
    """Owner id → the logins of their live accounts on the host."""
    owners: dict[int, list[str]] = {}
    for owner_id, login in TradingAccount.objects.filter(host=host, deleted_at__isnull=True).values_list(
        "owner_id", "login"
    ):
        owners.setdefault(owner_id, []).append(login)
    return owners


def order_outcomes(*, since: datetime, newest: int = 2000) -> tuple[int, int]:
    """(final orders, of which rejected or failed) done since a moment, everyone's, among the
    `newest` orders: a primary-key range, so the check costs the same on a table of millions."""
    bad = Q(status__in=[Order.Status.REJECTED, Order.Status.FAILED])
    last = Order.objects.aggregate(m=Max("id"))["m"] or 0
    recent = Order.objects.filter(pk__gt=last - newest, done_at__gte=since)
    row = recent.exclude(status=Order.Status.CANCELLED).aggregate(total=Count("id"), bad=Count("id", filter=bad))
    return row["total"], row["bad"]


def preferences_enabled(*, owner_ids, kinds) -> set[tuple[int, str]]:
    """(owner, kind) of those owners and kinds that go somewhere: one query for a batch."""
    enabled = Q(in_app=True) | Q(email=True) | Q(endpoints__isnull=False)
    rows = Preference.objects.filter(enabled, owner_id__in=list(owner_ids), kind__in=list(kinds))
    return set(rows.values_list("owner_id", "kind"))


def summary_owner_ids() -> list[int]:
    enabled = Q(in_app=True) | Q(email=True) | Q(endpoints__isnull=False)
    return list(
        Preference.objects.filter(enabled, kind=Kind.DAILY_SUMMARY).values_list("owner_id", flat=True).distinct()
    )


def daily_figures(*, owner_id: int, since: datetime) -> dict:
    orders = Order.objects.filter(owner_id=owner_id, created_at__gte=since).aggregate(
        filled=Count("id", filter=Q(status=Order.Status.FILLED)),
        failed=Count("id", filter=Q(status__in=[Order.Status.REJECTED, Order.Status.FAILED])),
    )
    signals = Signal.objects.filter(owner_id=owner_id, received_at__gte=since).aggregate(
        received=Count("id"), rejected=Count("id", filter=Q(status=Signal.Status.REFUSED))
    )
    copy_errors = CopyEvent.objects.filter(
        owner_id=owner_id, received_at__gte=since, status=CopyEvent.Status.ERROR
    ).count()
    accounts = list(
        TradingAccount.objects.filter(owner_id=owner_id, deleted_at__isnull=True).values(
            "login", "status", "balance", "equity", "currency"
        )
    )
    return {**orders, "signals": signals["received"], "signals_rejected": signals["rejected"],
            "copy_errors": copy_errors, "accounts": accounts}  # fmt: skip
