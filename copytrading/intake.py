"""A master event's intake: stored once, by (master, kind, order id, sequence), and in the same
transaction fanned out to the master's pairs. Events come from POST /api/copy/trade, the
host-side watcher, or a copy that filled on a slave that is itself a master (a cascade)."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from mt5saas.events import publish_many
from terminals.models import TradingAccount
from terminals.selectors import order_event
from terminals.services import orders_enqueue

from . import hooks
from .events import MasterEvent
from .fanout import fan_out
from .models import CopyEvent
from .payloads import copy_event_payload
from .selectors import master_order_opened

REPEAT_WINDOW = timedelta(seconds=10)


def _event_sequence(master: TradingAccount, event: MasterEvent, open_before: Decimal) -> str:
    """Tells a repeat of an event from a new one of the same order when the source gives no
    deal ticket. A close like the order's latest close (same volume) within REPEAT_WINDOW is
    a resend (an EA retrying), as a byte-identical webhook within 10 s is; a modify to the
    levels of the order's latest modify changes nothing, so it is that modify again."""
    if event.sequence:
        return event.sequence
    if event.kind == CopyEvent.Kind.DEAL_ADD:
        return ""
    earlier = CopyEvent.objects.filter(master=master, order_id=event.order_id, kind=event.kind)
    latest = earlier.order_by("-pk").first()
    if event.kind == CopyEvent.Kind.DEAL_CLOSE:
        if (
            latest is not None
            and latest.volume == event.volume
            and latest.received_at >= timezone.now() - REPEAT_WINDOW
        ):
            return latest.sequence
        volume = f"{event.volume.normalize():f}" if event.volume else "all"
        return f"{open_before.normalize():f}-{volume}#{earlier.count()}"
    levels = f"{event.sl or 0:f}/{event.tp or 0:f}"
    if latest is not None and latest.sequence.split("#")[0] == levels:
        return latest.sequence
    return f"{levels}#{earlier.count()}"


def copy_event_receive(
    *, master: TradingAccount, event: MasterEvent, source: str = CopyEvent.Source.API
) -> tuple[CopyEvent, bool]:
    """Store a master event and queue one order per active pair of the master, in one
    transaction; returns (event, created). Idempotent: the same event again returns the
    first one and places nothing, also when two arrive at once."""
    with transaction.atomic():
        # One master's events one at a time (its row locked; SQLite has one writer anyway):
        # each reads what the ones before it left open (two partial closes arriving together
        # would each take their share of the same stale volume), and a second delivery of an
        # event finds the first. NO KEY: orders inserted for the account as a slave go on.
        TradingAccount.objects.select_for_update(no_key=True).filter(pk=master.pk).values_list("pk").first()
        return _store_and_fan_out(master, event, source)


def _store_and_fan_out(master: TradingAccount, event: MasterEvent, source: str) -> tuple[CopyEvent, bool]:
    opened, open_before = master_order_opened(master=master, order_id=event.order_id)
    sequence = _event_sequence(master, event, open_before)
    hooks.intake_open_volume_read.send(master, event=event)
    lookup = {"master": master, "kind": event.kind, "order_id": event.order_id, "sequence": sequence}
    if (first := CopyEvent.objects.filter(**lookup).first()) is not None:
        return first, False
    row = CopyEvent.objects.create(
        owner_id=master.owner_id,
        source=source,
        symbol=event.symbol or (opened.symbol if opened else ""),
        side=event.side or (opened.side if opened else ""),
        volume=event.volume,
        sl=event.sl,
        tp=event.tp,
        **lookup,
    )
    executions, orders = fan_out(row, event, master, opened, open_before)
    if orders:
        orders_enqueue(orders=orders)
    publish_many(
        master.owner_id,
        [("copy_event", copy_event_payload(row, executions))] + [("order", order_event(o)) for o in orders],
    )
    return row, True
