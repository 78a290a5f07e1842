"""Reads of copy trading."""

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from terminals.models import TradingAccount

from .models import CopyEvent, CopyExecution, CopyPair


def pair_list(*, user) -> QuerySet[CopyPair]:
    """The user's pairs with their accounts, oldest first."""
    return CopyPair.objects.owned_by(user).select_related("master", "slave").order_by("pk")


def history_list(
    *, user, status: str | None = None, master: int | None = None, symbol: str = ""
) -> QuerySet[CopyEvent]:
    """The user's copy events shown (not cleared), newest first, each with its slaves' results.
    `status` keeps events with a slave result of that status (error: or an event-level error);
    `symbol` is the master's, in any case."""
    events = CopyEvent.objects.owned_by(user).filter(hidden_at__isnull=True)
    if master:
        events = events.filter(master_id=master)
    if symbol:
        events = events.filter(symbol__iexact=symbol)
    if status:
        with_status = CopyExecution.objects.filter(event=OuterRef("pk"), status=status)
        condition = Exists(with_status)
        if status == "error":
            condition |= Q(status=CopyEvent.Status.ERROR)
        elif status == "skipped":
            condition |= Q(status=CopyEvent.Status.SKIPPED)
        events = events.filter(condition)
    executions = CopyExecution.objects.select_related("slave", "order").order_by("pk")
    return (
        events.select_related("master")
        .prefetch_related(Prefetch("executions", queryset=executions))
        .order_by("-received_at", "-pk")
    )


def master_order_opened(*, master: TradingAccount, order_id: str) -> tuple[CopyEvent | None, Decimal]:
    """The master's first deal_add of order_id and what is still open of it: every deal_add
    (a netting account adds to its one position per symbol) less the closes."""
    events = CopyEvent.objects.filter(master=master, order_id=order_id)
    adds = list(events.filter(kind=CopyEvent.Kind.DEAL_ADD).order_by("pk").values_list("pk", "volume"))
    if not adds:
        return None, Decimal(0)
    opened = CopyEvent.objects.get(pk=adds[0][0])
    closes = events.filter(kind=CopyEvent.Kind.DEAL_CLOSE).exclude(status=CopyEvent.Status.ERROR)
    if closes.filter(volume__isnull=True).exists():
        return opened, Decimal(0)
    closed = closes.aggregate(total=Sum("volume"))["total"] or Decimal(0)
    return opened, max(Decimal(0), sum((v or Decimal(0) for _, v in adds), Decimal(0)) - closed)


def master_open_volume(*, master: TradingAccount, order_id: str) -> Decimal | None:
    """What the master still has open of order_id by its events; None if it never reported opening it."""
    opened, open_volume = master_order_opened(master=master, order_id=order_id)
    return None if opened is None else open_volume


def event_never_opened(row: CopyEvent) -> bool:
    """A close or modify of an order the master never reported opening."""
    if row.kind == CopyEvent.Kind.DEAL_ADD:
        return False
    opens = CopyEvent.objects.filter(master_id=row.master_id, order_id=row.order_id, kind=CopyEvent.Kind.DEAL_ADD)
    return not opens.exists()


def pairs_of_orders(*, order_ids: Iterable[int]) -> dict[int, int]:
    """{terminals order id: copy pair id} of these orders that are copies (one query); a copy
    whose pair was deleted is left out."""
    rows = CopyExecution.objects.filter(order_id__in=list(order_ids), pair__isnull=False)
    return dict(rows.values_list("order_id", "pair_id"))
