"""Reads of the terminals app."""

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone

from .models import Order, TerminalHost, TradingAccount
from .retcodes import retcode_text as retcode_text  # an order's retcode in words, for every app that shows one
from .symbols import intake_accounts as intake_accounts  # a signal's target accounts with their symbol mappings
from .symbols import mapping_of as mapping_of
from .symbols import symbol_clean as symbol_clean  # a requested symbol as the trader meant it
from .symbols import symbol_mappings_read as symbol_mappings_read
from .symbols import symbol_normalize as symbol_normalize

# The newest finished orders of a window whose latency percentiles are computed in Python:
# exact below this many, and the cost of a page bounded above it on any database.
LATENCY_SAMPLE = 5000


def account_list(*, user) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.owned_by(user).alive().select_related("host").order_by("pk")


def account_current(*, user) -> TradingAccount | None:
    """The caller's current account, else their first live one."""
    accounts = account_list(user=user)
    return accounts.filter(is_current=True).first() or accounts.first()


def order_list(*, user, filters: Mapping[str, Any]) -> QuerySet[Order]:
    """The user's orders still shown in their history (not cleared), newest first. `filters`
    holds any of signal and account (an id or the row), status, source, symbol (as requested or
    as the broker names it, in any case), since and until (when created); an empty value is no filter."""
    orders = Order.objects.owned_by(user).filter(hidden_at__isnull=True).select_related("account")
    for name in ("signal", "account", "status", "source"):
        if value := filters.get(name):
            orders = orders.filter(**{name: value})
    if symbol := filters.get("symbol"):
        orders = orders.filter(Q(requested_symbol__iexact=symbol) | Q(symbol__iexact=symbol))
    if since := filters.get("since"):
        orders = orders.filter(created_at__gte=since)
    if until := filters.get("until"):
        orders = orders.filter(created_at__lte=until)
    return orders.order_by("-created_at", "-pk")


def order_event(order: Order) -> dict:
    """An order as its live event shows it."""
    return {
        "id": order.pk,
        "signal": order.signal_id,
        "account": order.account_id,
        "status": order.status,
        "reason": order.status_reason,
        "retcode": order.retcode,
        "retcode_text": retcode_text(order.retcode),
        "ticket": order.ticket,
        "fill_price": str(order.fill_price) if order.fill_price is not None else None,
        "created_at": order.created_at.isoformat(),
        "queued_at": order.queued_at.isoformat() if order.queued_at else None,
        "sent_at": order.sent_at.isoformat() if order.sent_at else None,
        "done_at": order.done_at.isoformat() if order.done_at else None,
    }


def host_list() -> QuerySet[TerminalHost]:
    return TerminalHost.objects.with_load().order_by("name")


def admin_stats() -> dict[str, int]:
    figures = TradingAccount.objects.filter(deleted_at__isnull=True).aggregate(
        accounts=Count("pk"),
        accounts_online=Count("pk", filter=Q(status=TradingAccount.Status.ONLINE)),
    )
    figures["accounts_offline"] = figures["accounts"] - figures["accounts_online"]
    recent = timezone.now() - timedelta(minutes=5)
    figures["hosts_online"] = TerminalHost.objects.filter(online=True).count()
    figures["hosts_heartbeat_5m"] = TerminalHost.objects.filter(heartbeat_at__gte=recent).count()
    return figures


def _bucket_start(at: datetime, minutes: int) -> datetime:
    return at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % minutes)


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value that at least `share` of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def order_figures(*, since: datetime, until: datetime, bucket_minutes: int) -> dict:
    """Orders received in [since, until): per bucket (minute or hour buckets, each with its
    rate per minute), by status, the fill rate of those that finished, and latency (received
    to final) p50/p99 over the newest LATENCY_SAMPLE that finished, overall and per bucket."""
    orders = Order.objects.filter(created_at__gte=since, created_at__lt=until)
    kind = "minute" if bucket_minutes == 1 else "hour"
    counted = {
        row["at"]: row
        for row in orders.annotate(at=Trunc("created_at", kind))
        .values("at")
        .annotate(orders=Count("pk"), filled=Count("pk", filter=Q(status=Order.Status.FILLED)))
    }
    by_status = dict(orders.values_list("status").annotate(n=Count("pk")).order_by())
    finished = sum(by_status.get(status, 0) for status in Order.FINAL)
    sample = list(
        orders.filter(done_at__isnull=False).order_by("-done_at").values_list("created_at", "done_at")[:LATENCY_SAMPLE]
    )
    latency: dict[datetime, list[float]] = {}
    for created_at, done_at in sample:
        latency.setdefault(_bucket_start(created_at, bucket_minutes), []).append(
            (done_at - created_at).total_seconds() * 1000
        )
    everything = [ms for values in latency.values() for ms in values]
    series = []
    at = _bucket_start(since, bucket_minutes)
    while at < until:
        row = counted.get(at, {})
        values = latency.get(at, [])
        series.append(
            {
                "at": at.isoformat(),
                "orders": row.get("orders", 0),
                "filled": row.get("filled", 0),
                "per_minute": round(row.get("orders", 0) / bucket_minutes, 2),
                "p50_ms": _rounded(_percentile(values, 0.5)),
                "p99_ms": _rounded(_percentile(values, 0.99)),
            }
        )
        at += timedelta(minutes=bucket_minutes)
    total = sum(by_status.values())
    return {
        "total": total,
        "per_minute": round(total / ((until - since).total_seconds() / 60), 2),
        "by_status": by_status,
        "finished": finished,
        "fill_rate": round(by_status.get(Order.Status.FILLED, 0) / finished, 4) if finished else None,
        "latency_ms": {
            "p50": _rounded(_percentile(everything, 0.5)),
            "p99": _rounded(_percentile(everything, 0.99)),
            "sample": len(everything),
        },
        "series": series,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def order_refusals(*, since: datetime, until: datetime, limit: int = 10) -> list[dict]:
    """Rejected and failed orders received in the window, most frequent reasons first."""
    rows = (
        Order.objects.filter(
            created_at__gte=since, created_at__lt=until, status__in=[Order.Status.REJECTED, Order.Status.FAILED]
        )
        .values("status", "retcode", "status_reason")
        .annotate(count=Count("pk"))
        .order_by("-count", "status", "status_reason")[:limit]
    )
    return [
        {
            "kind": f"order {row['status']}",
            "reason": " · ".join(part for part in (row["status_reason"], retcode_text(row["retcode"])) if part)
            or "no reason recorded",
            "count": row["count"],
        }
        for row in rows
    ]


def host_figures() -> list[dict]:
    return [
        {
            "name": host.name,
            "kind": host.kind,
            "online": host.online,
            "load": host.load,
            "capacity": host.capacity,
            "cpu_percent": host.cpu_percent,
            "memory_percent": host.memory_percent,
            "terminals_running": host.terminals_running,
            "heartbeat_at": host.heartbeat_at.isoformat() if host.heartbeat_at else None,
        }
        for host in host_list()
    ]


def account_status_counts() -> dict[str, int]:
    """Live (not deleted) accounts by status: online, offline, connecting, error, …"""
    return dict(TradingAccount.objects.alive().values_list("status").annotate(n=Count("pk")).order_by())
