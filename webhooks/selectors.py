"""Reads of the webhooks app: a trader's history (orders and refused alerts), refusals by reason."""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import CharField, F, QuerySet, Value

from terminals.models import Order
from terminals.selectors import order_list

from .models import Signal

REFUSED = Signal.Status.REFUSED


def history_list(*, user, filters: Mapping[str, Any]) -> QuerySet:
    """("order" | "signal", id, time) rows of the user's orders (terminals' order_list) and refused
    signals shown (not cleared), newest first; history_items() reads a page of them. `filters`
    holds any of account, status, source, symbol, since and until. An account or an order status
    filters refused signals out (they reached no account); status "refused" keeps only them."""
    status = filters.get("status")
    orders = order_list(user=user, filters=filters) if status != REFUSED else Order.objects.none()
    refused = Signal.objects.owned_by(user).filter(status=REFUSED, hidden_at__isnull=True)
    if filters.get("account") or (status and status != REFUSED):
        refused = refused.none()
    if source := filters.get("source"):
        refused = refused.filter(source=source)
    if symbol := filters.get("symbol"):
        refused = refused.filter(symbol__iexact=symbol)
    if since := filters.get("since"):
        refused = refused.filter(received_at__gte=since)
    if until := filters.get("until"):
        refused = refused.filter(received_at__lte=until)
    # A compound query takes no ordering in its parts: the rows are ordered as a whole.
    rows = orders.order_by().annotate(kind=Value("order", output_field=CharField()), at=F("created_at"))
    rows = rows.values_list("kind", "pk", "at")
    # Most traders have no refused alert to show: their history stays one indexed read of orders.
    if refused.exists():
        signals = refused.annotate(kind=Value("signal", output_field=CharField()), at=F("received_at"))
        rows = rows.union(signals.values_list("kind", "pk", "at"), all=True)
    return rows.order_by("-at", "-id")


def history_items(rows) -> list[tuple[str, Order | Signal]]:
    """The orders and signals of a page of history_list() rows, in its order."""
    rows = list(rows)
    orders = Order.objects.select_related("account", "signal").in_bulk([pk for kind, pk, _ in rows if kind == "order"])
    signals = Signal.objects.in_bulk([pk for kind, pk, _ in rows if kind == "signal"])
    found = {"order": orders, "signal": signals}
    return [(kind, found[kind][pk]) for kind, pk, _ in rows if pk in found[kind]]


# Refused alerts whose errors are counted: their reasons are JSON, grouped in Python.
REFUSAL_SAMPLE = 1000


def signal_refusals(*, since: datetime, until: datetime, limit: int = 10) -> list[dict]:
    """Alerts refused at intake in the window (the newest REFUSAL_SAMPLE), most frequent
    reasons first; a reason is a field and its first error."""
    refused = Signal.objects.filter(received_at__gte=since, received_at__lt=until, status=REFUSED)
    reasons: Counter[str] = Counter()
    for errors in refused.order_by("-received_at").values_list("errors", flat=True)[:REFUSAL_SAMPLE]:
        for field, messages in (errors or {"": ["no reason recorded"]}).items():
            first = messages[0] if isinstance(messages, list) and messages else messages
            reasons[f"{field}: {first}" if field else str(first)] += 1
    return [{"kind": "alert refused", "reason": reason, "count": n} for reason, n in reasons.most_common(limit)]
