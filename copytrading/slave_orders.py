"""The order a slave is sent for a master event: the pair's volume rule, its symbol on the slave,
and the open, close or modify of the linked position. Orders then run as every other order does
(terminals.orders: ordering, at most once, risk guards, volume normalised to the slave
symbol's step/min/max, retcodes in words)."""

from decimal import ROUND_FLOOR, Decimal

from django.utils import timezone

from mt5saas.display import lots_text
from terminals.errors import SymbolError
from terminals.models import Order, SymbolMapping
from terminals.selectors import symbol_normalize
from terminals.services import close_share, queued_stamp, symbol_resolve

from .events import LOT, MAX_LOTS, MasterEvent
from .models import CopyEvent, CopyExecution, CopyLink, CopyPair
from .pairs import account_label


class SlaveCannotCopy(Exception):
    """This slave cannot copy the event (its rule, its symbols); the message is its execution's error."""


def _copy_order(row: CopyEvent, pair: CopyPair, **fields) -> Order:
    return Order(
        created_at=row.received_at,
        queued_at=queued_stamp(),
        owner_id=pair.owner_id,
        account=pair.slave,
        source=Order.Source.COPY,
        link=f"COPY_{row.order_id}",  # at most MAX_ORDER_ID long: held whole
        comment=f"Copy of {account_label(pair.master)} order {row.order_id}"[:100],
        **fields,
    )


def slave_volume(event: MasterEvent, pair: CopyPair) -> Decimal:
    """The pair's rule, before the slave symbol's step/min/max (the pipeline applies those)."""
    mode = pair.volume_mode
    if mode == CopyPair.VolumeMode.FIXED:
        raw = pair.fixed_volume
    elif mode == CopyPair.VolumeMode.MULTIPLY:
        raw = event.volume * pair.multiplier
    else:
        master, slave = pair.master, pair.slave
        missing = [account_label(a) for a in (master, slave) if a.heartbeat_at is None or a.balance <= 0]
        if missing:
            raise SlaveCannotCopy(
                f"Percent mode needs both balances from the latest heartbeat; {', '.join(missing)} has not reported "
                "a balance yet."
            )
        raw = slave.balance / master.balance * event.volume * pair.multiplier
    volume = raw.quantize(LOT, rounding=ROUND_FLOOR)
    if volume <= 0:
        raise SlaveCannotCopy(f"The rule gives {raw.normalize():f} lots, less than any symbol's minimum.")
    if volume > MAX_LOTS:
        raise SlaveCannotCopy(
            f"The rule gives {lots_text(volume)} lots, more than the {lots_text(MAX_LOTS)} any symbol trades."
        )
    return volume


def pair_symbol(pair: CopyPair, symbol: str) -> str:
    """The pair's map entry for the master's symbol (the map's keys are upper-cased, as
    symbol_normalize writes them), else the symbol as the master spelled it."""
    return pair.symbol_map.get(symbol.upper(), symbol)


def _slave_symbol(symbol: str, pair: CopyPair, mappings: dict[tuple[int, str], SymbolMapping]) -> tuple[str, str]:
    """(requested, mapped) for the slave: the pair's map, then the account's own mappings
    (`mappings`, from symbol_mappings_read) and automatic rules; mapped is "" when the slave's
    symbol list is not known yet (the execution maps it then)."""
    slave = pair.slave
    requested = pair_symbol(pair, symbol)
    if not slave.symbols:
        return requested, ""
    if not pair.auto_symbol_map:
        if requested in slave.symbols:
            return requested, requested
        # The name as is, in any case the slave lists it once ("eurusd" from a master, "EURUSD" here).
        same = [name for name in slave.symbols if name.upper() == requested.upper()]
        if len(same) == 1:
            return requested, same[0]
        raise SlaveCannotCopy(
            f"{requested} is not offered on {account_label(slave)}, and automatic symbol mapping is off."
        )
    try:
        mapping = mappings.get((slave.pk, symbol_normalize(requested)))
        return requested, symbol_resolve(account=slave, requested=requested, available=slave.symbols, mapping=mapping)
    except SymbolError as error:
        raise SlaveCannotCopy(f"{account_label(slave)}: {error}") from None


def open_order(
    row: CopyEvent,
    event: MasterEvent,
    pair: CopyPair,
    execution: CopyExecution,
    mappings: dict[tuple[int, str], SymbolMapping],
) -> Order:
    """The slave's copy of the master's new order, by the pair's rule and symbol map."""
    requested, symbol = _slave_symbol(event.symbol, pair, mappings)
    execution.symbol = symbol or requested
    volume = slave_volume(event, pair)
    execution.volume_before = volume
    return _copy_order(
        row,
        pair,
        action=Order.Action.OPEN,
        side=event.side,
        requested_symbol=requested,
        symbol=symbol,
        volume=volume,
        sl=event.sl if pair.copy_sl_tp else None,
        tp=event.tp if pair.copy_sl_tp else None,
    )


def addition_order(row: CopyEvent, event: MasterEvent, pair: CopyPair, execution: CopyExecution, first: Order) -> Order:
    """The rule's volume of lots the master added to its open order `first` was copied by: on a
    netting slave it joins that position, on a hedging slave it opens one of its own."""
    execution.symbol = first.symbol or first.requested_symbol
    volume = execution.volume_before = slave_volume(event, pair)
    return _copy_order(
        row,
        pair,
        action=Order.Action.OPEN,
        side=first.side,
        requested_symbol=first.requested_symbol,
        symbol=first.symbol,
        volume=volume,
        position_of=None if pair.slave.hedging else first,
    )


def close_order(
    row: CopyEvent,
    event: MasterEvent,
    pair: CopyPair,
    execution: CopyExecution,
    link: CopyLink,
    open_before: Decimal,
    fraction: Decimal | None,
) -> Order:
    """A close of the linked position: all of it (fraction None), or the same share of it as
    the master closed of its own, measured when it executes."""
    opener = link.open_order
    execution.symbol = opener.symbol or opener.requested_symbol
    if fraction is None:
        link.closed_at, link.master_volume = timezone.now(), Decimal(0)
    else:
        link.master_volume = open_before - event.volume
        if link.volume is not None:
            execution.volume_before = close_share(link.volume, fraction).quantize(LOT, rounding=ROUND_FLOOR)
    return _copy_order(
        row,
        pair,
        action=Order.Action.CLOSE_TICKET,
        requested_symbol=opener.requested_symbol,
        symbol=opener.symbol,
        position_ticket=link.slave_ticket,
        position_of=opener,
        close_fraction=fraction,
    )


def modify_order(row: CopyEvent, event: MasterEvent, pair: CopyPair, execution: CopyExecution, link: CopyLink) -> Order:
    """New stops for the linked position."""
    opener = link.open_order
    execution.symbol = opener.symbol or opener.requested_symbol
    return _copy_order(
        row,
        pair,
        action=Order.Action.MODIFY_SLTP,
        requested_symbol=opener.requested_symbol,
        symbol=opener.symbol,
        position_ticket=link.slave_ticket,
        position_of=opener,
        sl=event.sl,
        tp=event.tp,
    )
