"""The host-side master watcher: trades made on a master terminal itself (by hand, by
another EA) become master events without an EA of ours, within one host agent round.

terminals.agent sends account_read each round with the open driver; for a `simulated` or
`mt5` master of an active pair this reads the deals after the cursor and the positions'
SL/TP, and feeds copy_event_receive, the code path of POST /api/copy/trade. Idempotent by
deal ticket, so a restarted agent that reads a deal again copies it once.
"""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from terminals.drivers.base import DealEntry, Driver, OrderType
from terminals.models import TradingAccount

from .models import CopyEvent, CopyPair, MasterCursor
from .selectors import master_open_volume
from .services import MasterEvent, copy_event_receive, copy_outcomes_sweep

WATCHED = (TradingAccount.Kind.SIMULATED, TradingAccount.Kind.MT5)
# Deals are asked for from the last round minus this: a broker may book a deal with a time a
# little before the moment it shows it. Tickets, not times, decide what is new.
OVERLAP = timedelta(hours=1)
# Our own copies carry their link; the copy that filled already passed them on (cascades).
COPY_PREFIX = "COPY_"
# A master whose EA posted to /api/copy/trade this recently is the EA's to report: read here
# too, a close the EA sent without the deal ticket could not be told from the same close read
# from the terminal, and the slaves would close twice.
EA_REPORTS_FOR = timedelta(hours=24)


def master_watch(sender, *, account: TradingAccount, driver: Driver, this_round: dict, **kwargs) -> None:
    if account.kind not in WATCHED or account.pk not in _active_masters(this_round):
        return
    now = timezone.now()
    api = CopyEvent.objects.filter(master=account, source=CopyEvent.Source.API, received_at__gte=now - EA_REPORTS_FOR)
    if api.exists():
        MasterCursor.objects.filter(account=account).delete()  # when the EA stops, watching starts afresh
        return
    cursor = MasterCursor.objects.filter(account=account).first()
    if cursor is None:
        # Watching starts now: what the master traded before is not copied.
        deals = driver.deals(since=now - OVERLAP, until=now + timedelta(days=1))
        stops = {str(p.identifier): [p.sl, p.tp] for p in driver.positions()}
        MasterCursor.objects.create(
            owner_id=account.owner_id, account=account, read_at=now, stops=stops,
            last_deal=max((d.ticket for d in deals), default=0),
        )  # fmt: skip
        return
    # Positions before deals: one missing here closed before the deals are read, so its
    # closing deal is among them and maps through its leg before the leg is forgotten.
    open_before = {str(p.identifier) for p in driver.positions()}
    deals = driver.deals(since=cursor.read_at - OVERLAP, until=now + timedelta(days=1))
    last, legs = cursor.last_deal, dict(cursor.legs)
    for deal in sorted(deals, key=lambda d: d.ticket):
        if deal.ticket <= cursor.last_deal:
            continue
        last = max(last, deal.ticket)
        if deal.comment.startswith(COPY_PREFIX) or deal.type not in (OrderType.BUY, OrderType.SELL):
            continue
        for event in _deal_events(account, deal, driver, legs):
            copy_event_receive(master=account, event=event, source=CopyEvent.Source.WATCHER)
    stops = _stops_changed(account, driver.positions(), cursor.stops, legs)
    # A closed position's identifier never comes back: its leg is forgotten (a leg recorded
    # this round stays until the next round has read its position's deals).
    legs = {key: leg for key, leg in legs.items() if key in open_before or key not in cursor.legs}
    MasterCursor.objects.filter(pk=cursor.pk).update(last_deal=last, read_at=now, stops=stops, legs=legs)


def _active_masters(this_round: dict) -> set[int]:
    """The masters of active pairs, read once a round (most accounts are none)."""
    if "copytrading.masters" not in this_round:
        this_round["copytrading.masters"] = set(CopyPair.objects.active().values_list("master_id", flat=True))
    return this_round["copytrading.masters"]


def _order_id(position_id: int, legs: dict[str, str]) -> str:
    """The master order id a position's deals and stops are copied under: its identifier, or
    the leg its last reversal opened."""
    return legs.get(str(position_id), str(position_id))


def _deal_events(account: TradingAccount, deal, driver: Driver, legs: dict[str, str]) -> list[MasterEvent]:
    """The master events of a deal; a reversal records its new leg in `legs`."""
    position = _order_id(deal.position_id, legs)
    volume = _lots(deal.volume)
    side = "buy" if deal.type == OrderType.BUY else "sell"
    if deal.entry == DealEntry.IN:
        # A new position, or (netting) an addition to the open one: the same event, told apart by the history.
        opened = [p for p in driver.positions() if p.identifier == deal.position_id]
        sl, tp = (opened[0].sl, opened[0].tp) if opened else (0.0, 0.0)
        return [
            MasterEvent(
                CopyEvent.Kind.DEAL_ADD, position, symbol=deal.symbol, side=side, volume=volume,
                sl=_price(sl), tp=_price(tp), sequence=str(deal.ticket),
            )
        ]  # fmt: skip
    if deal.entry in (DealEntry.OUT, DealEntry.OUT_BY):
        return [MasterEvent(CopyEvent.Kind.DEAL_CLOSE, position, volume=volume, sequence=str(deal.ticket))]
    if deal.entry == DealEntry.INOUT:
        # A netting reversal: the position is closed and the rest of the deal opens the other
        # way, copied as a new order named after the reversing order (the position's ticket
        # on MT5 now; its identifier, which later deals name, stays: `legs` remembers).
        legs[str(deal.position_id)] = str(deal.order)
        closed = master_open_volume(master=account, order_id=position)
        if closed is None:  # opened before watching began: what is open now of the new position
            reopened = driver.positions(ticket=deal.order)
            closed = volume - _lots(reopened[0].volume) if reopened else volume
        events = [MasterEvent(CopyEvent.Kind.DEAL_CLOSE, position, volume=None, sequence=str(deal.ticket))]
        if (rest := volume - closed) > 0:
            events.append(
                MasterEvent(
                    CopyEvent.Kind.DEAL_ADD, str(deal.order), symbol=deal.symbol, side=side, volume=rest,
                    sequence=str(deal.ticket),
                )
            )  # fmt: skip
        return events
    return []


def _stops_changed(account: TradingAccount, open_now: list, seen: dict, legs: dict[str, str]) -> dict:
    """Send position_modify for positions whose SL/TP moved since the last round; returns what is seen now."""
    now = {}
    for position in open_now:
        key = _order_id(position.identifier, legs)
        now[key] = [position.sl, position.tp]
        if key in seen and seen[key] != now[key] and not position.comment.startswith(COPY_PREFIX):
            event = MasterEvent(CopyEvent.Kind.POSITION_MODIFY, key, sl=_price(position.sl), tp=_price(position.tp))
            copy_event_receive(master=account, event=event, source=CopyEvent.Source.WATCHER)
    return now


def _lots(value: float) -> Decimal:
    return Decimal(str(value))


def _price(value: float) -> Decimal | None:
    return Decimal(str(value)) if value else None


def outcomes_sweep(sender, *, host, accounts, **kwargs) -> None:
    """terminals.signals.round_done: copy outcomes a dead worker left unrecorded."""
    copy_outcomes_sweep(accounts=accounts)
