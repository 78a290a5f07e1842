"""Copied orders' outcomes: each recorded on its execution and its link, and a fill passed on
when the slave is itself a master (a cascade)."""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mt5saas.db import rows_update
from mt5saas.events import publish_each
from terminals.models import Order, TradingAccount

from . import hooks
from .events import MasterEvent
from .intake import copy_event_receive
from .models import CopyEvent, CopyExecution, CopyLink, CopyPair
from .payloads import copy_event_payload
from .selectors import master_open_volume

log = logging.getLogger(__name__)


def copy_orders_finished(sender, *, orders: list[Order], **kwargs) -> None:
    """terminals.signals.orders_finished: record copied orders' outcomes on their
    executions and links, and pass fills on to slaves that are masters themselves.

    One transaction, claimed by each execution's `pending` state (its row locked on
    PostgreSQL): a second announcement of the same outcome (copy_outcomes_sweep after a worker
    died here) changes nothing, and a run that died half-way left nothing behind, so the
    sweep redoes all of it. A round of N orders is a few statements, not a few per order."""
    copies = {order.pk: order for order in orders if order.source == Order.Source.COPY}
    if not copies:
        return
    with transaction.atomic():
        masters = _passing_masters_lock(copies.values())
        executions = list(
            CopyExecution.objects.filter(order_id__in=copies, status=CopyExecution.Status.PENDING)
            .select_related("event")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if not executions:
            return
        claimed = [copies[execution.order_id] for execution in executions]
        _executions_record(executions, claimed)
        links = links_of_orders(claimed)
        hooks.outcome_links_locked.send(Order, orders=claimed, links=links)
        _links_record(claimed, links)
        # What each slave did, not the event's whole list again: with N slaves that would be
        # N outcomes of N executions each. The event's first publish listed them all.
        publish_each(
            (order.owner_id, "copy_event", copy_event_payload(execution.event, [execution]))
            for execution, order in zip(executions, claimed, strict=True)
        )
        for order in claimed:
            link = links.get(order.pk)
            passes_on = order.account_id in masters and order.status == Order.Status.FILLED
            if passes_on and link is not None and link.slave_ticket is not None:
                hooks.fill_passing_on.send(order, link=link)
                cascade(order, link)


def _passing_masters_lock(orders) -> set[int]:
    """The accounts of `orders` that pass their fills on (active masters), their rows locked."""
    # Locked first, before any link, in key order: an intake of such an account's own events
    # locks its row, then links (copy_event_receive); taken the other way round, the two deadlocked.
    return set(
        TradingAccount.objects.select_for_update(no_key=True)
        .filter(pk__in={order.account_id for order in orders})
        .filter(pk__in=CopyPair.objects.active().values("master_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _executions_record(executions: list[CopyExecution], orders: list[Order]) -> None:
    """Each execution's outcome from its order's, written in one statement."""
    for execution, order in zip(executions, orders, strict=True):
        filled = order.status == Order.Status.FILLED
        execution.status = CopyExecution.Status.SUCCESS if filled else CopyExecution.Status.ERROR
        execution.error = "" if filled else (order.status_reason or order.status)[:300]
        execution.volume_after = order.filled_volume if filled else None
        execution.symbol = order.symbol or execution.symbol
        execution.done_at = order.done_at or timezone.now()
    rows_update(executions, ["status", "error", "volume_after", "symbol", "done_at"])


def _links_record(orders: list[Order], links: dict[int, CopyLink]) -> None:
    """What each order's outcome does to its link, the links changed written in one statement."""
    changed = {}
    for order in orders:
        if (link := links.get(order.pk)) is not None and link_outcome(link, order):
            changed[link.pk] = link
    rows_update(list(changed.values()), ["slave_ticket", "volume", "closed_at"])


def copy_outcomes_sweep(*, accounts=None) -> int:
    """Outcomes of copied orders (of `accounts`, default all) that reached a final state
    without being recorded (the worker died between the two); returns how many were recorded now."""
    stranded = CopyExecution.objects.filter(status=CopyExecution.Status.PENDING, order__status__in=Order.FINAL)
    if accounts is not None:
        stranded = stranded.filter(slave__in=accounts)
    orders = list(Order.objects.filter(pk__in=stranded.values("order_id")).select_related("account").order_by("pk"))
    try:
        copy_orders_finished(Order, orders=orders)
        return len(orders)
    except Exception:
        # One of them fails (its cascade, say): each on its own, so that it keeps none of the others waiting.
        log.exception("copy outcomes of orders %s: recorded one by one", [order.pk for order in orders])
    recorded = 0
    for order in orders:
        try:
            copy_orders_finished(Order, orders=[order])
            recorded += 1
        except Exception:
            log.exception("the copy outcome of order %s could not be recorded", order.pk)
    return recorded


def links_of_orders(orders: list[Order]) -> dict[int, CopyLink]:
    """Each order's link, read at once: the one it opened, or the one whose position it acts
    on (a close, a modify, or an addition on a netting slave). Orders of one link share it."""
    opened = [order.pk for order in orders if order.action == Order.Action.OPEN]
    acted_on = [order.position_of_id for order in orders if order.position_of_id]
    # Locked (PostgreSQL), in key order as a close's fan-out writes them (no deadlock): a close
    # received meanwhile marks the link closed after this is written, not before.
    found = (
        CopyLink.objects.filter(Q(open_order_id__in=opened) | Q(open_order_id__in=acted_on))
        .order_by("pk")
        .select_for_update()
    )
    rows = {link.open_order_id: link for link in found}
    links = {}
    for order in orders:
        link = rows.get(order.pk) if order.action == Order.Action.OPEN else None
        if link is None and order.position_of_id:
            link = rows.get(order.position_of_id)
        if link is not None:
            links[order.pk] = link
    return links


def link_outcome(link: CopyLink, order: Order) -> bool:
    """What the order's outcome does to its link (in place); whether it changed."""
    filled = order.status == Order.Status.FILLED
    if order.action == Order.Action.OPEN and link.open_order_id != order.pk:
        # An addition on a netting slave: it joined the linked position.
        if filled and link.volume is not None:
            link.volume += order.filled_volume or order.volume
            return True
        return False
    if order.action == Order.Action.OPEN:
        if filled:
            # On a netting slave the position it filled into, which it may have joined.
            position = order.position_ticket if order.position_ticket is not None else order.ticket
            link.slave_ticket, link.volume = position, order.filled_volume or order.volume
        else:
            link.closed_at = timezone.now()  # nothing was opened: later closes have nothing to do
        return True
    if order.action == Order.Action.CLOSE_TICKET and filled:
        if order.close_fraction is None or (
            link.volume is not None and order.filled_volume is not None and order.filled_volume >= link.volume
        ):
            link.volume, link.closed_at = Decimal(0), link.closed_at or timezone.now()
        elif link.volume is not None and order.filled_volume is not None:
            link.volume -= order.filled_volume
        return True
    return False


def cascade(order: Order, link: CopyLink) -> None:
    """The slave that filled is an active master itself: its fill is its own master event,
    idempotent by this order's id (a redelivered outcome copies once)."""
    slave = order.account
    position = str(link.slave_ticket)
    sequence = f"order-{order.pk}"
    if order.action == Order.Action.OPEN:
        volume = order.filled_volume or order.volume
        event = MasterEvent(
            CopyEvent.Kind.DEAL_ADD, position, symbol=order.symbol, side=order.side, volume=volume, sl=order.sl,
            tp=order.tp, sequence=sequence,
        )  # fmt: skip
    elif order.action == Order.Action.CLOSE_TICKET:
        # A part of the position as the slave reported it as a master, or all of it: on a
        # netting slave copying two masters one master's close leaves the other's lots open.
        held = master_open_volume(master=slave, order_id=position)
        partial = order.filled_volume is not None and held is not None and order.filled_volume < held
        volume = order.filled_volume if partial else None
        event = MasterEvent(CopyEvent.Kind.DEAL_CLOSE, position, volume=volume, sequence=sequence)
    else:
        event = MasterEvent(CopyEvent.Kind.POSITION_MODIFY, position, sl=order.sl, tp=order.tp, sequence=sequence)
    copy_event_receive(master=slave, event=event, source=CopyEvent.Source.CASCADE)
