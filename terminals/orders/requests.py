"""What an order becomes on its terminal: the MT5 requests of an open, a close or an SL/TP
change, on the symbol's grids and within the account's limits (a Refused says why not).

A close always names its position: on a hedging account an unnamed opposite order would open
a new position instead.
"""

from decimal import Decimal

from django.db.models import Q

from ..drivers.base import Driver, OrderRequest, OrderType, Position, SymbolInfo, TradeAction
from ..models import Order
from . import MAGIC
from .guards import Refused, RoundLookups, guards_check, symbol_of, trade_risk_check
from .prepare import (
    PreparationError,
    close_share,
    filling_choose,
    pips_to_price_distance,
    price_round,
    risk_volume,
    stop_loss_money,
    stops_check,
    volume_normalize,
)

Status = Order.Status
ORDER_TYPES = {
    ("market", True): OrderType.BUY,
    ("market", False): OrderType.SELL,
    ("limit", True): OrderType.BUY_LIMIT,
    ("limit", False): OrderType.SELL_LIMIT,
    ("stop", True): OrderType.BUY_STOP,
    ("stop", False): OrderType.SELL_STOP,
}


def order_requests(order: Order, driver: Driver, lookups: RoundLookups | None = None) -> list[OrderRequest]:
    """The terminal requests this order becomes, after guards and normalisation."""
    if order.action == Order.Action.OPEN:
        if order.position_of_id is not None and position_ticket(order) is None:
            # An addition (a netting copy) to a position its opener never opened: it would
            # open one of its own that nothing links, and no close of the master would reach.
            raise Refused(f"The position this adds to was not opened: order {order.position_of_id} did not fill.")
        guards_check(order, driver, lookups)
        return [_open_request(order, driver)]
    if order.action == Order.Action.MODIFY_SLTP:
        return _modify_requests(order, driver)
    return _close_requests(order, driver, lookups)


# --- the position an order acts on ------------------------------------------------------


def _opener(order: Order) -> Order | None:
    """The order that opened the position this one acts on or adds to (position_of), as it is now."""
    if order.position_of_id is None:
        return None
    return Order.objects.filter(pk=order.position_of_id).only("status", "ticket", "position_ticket").first()


def position_ticket(order: Order) -> int | None:
    """The position a close or modify acts on: named, or that of the order that opened it
    (on a netting account, the position it filled into)."""
    if order.position_ticket is not None:
        return order.position_ticket
    opener = _opener(order)
    if opener is None or opener.status != Status.FILLED:
        return None
    return opener.position_ticket if opener.position_ticket is not None else opener.ticket


def _acted_on(positions: list[Position], ticket: int) -> list[Position]:
    """The position a ticket names: by its ticket, or by its identifier, which a netting
    reversal (or a broker's reopening for swaps) keeps while the ticket changes."""
    return [p for p in positions if p.ticket == ticket] or [p for p in positions if p.identifier == ticket]


def _lots_held(order: Order, position: Position) -> Decimal:
    """The lots of `position` a close of the order that opened it (position_of) may take. On a
    netting account other orders' lots share the position: only the opener's, with its
    additions, less what its closes took; elsewhere the whole position."""
    lots = Decimal(str(position.volume))
    if order.account.hedging or order.position_of_id is None:
        return lots
    line = Order.objects.filter(Q(pk=order.position_of_id) | Q(position_of_id=order.position_of_id))
    fills = line.filter(status=Status.FILLED).order_by("pk")
    held = Decimal(0)
    for action, filled, volume, fraction in fills.values_list("action", "filled_volume", "volume", "close_fraction"):
        if action == Order.Action.OPEN:
            held += filled or volume or 0
        elif action == Order.Action.CLOSE_TICKET:
            # A terminal that did not say how much a close took: what it asked for.
            held -= filled or volume or (held if fraction is None else close_share(held, fraction))
    return min(lots, max(held, Decimal(0)))


def sltp_on_grid(order: Order, info: SymbolInfo) -> tuple[float, float]:
    """The order's stop loss and take profit on the symbol's price grid; 0 removes one."""
    sl = price_round(float(order.sl), info) if order.sl else 0.0
    tp = price_round(float(order.tp), info) if order.tp else 0.0
    return sl, tp


# --- closes and SL/TP changes -------------------------------------------------------------


def _close_requests(order: Order, driver: Driver, lookups: RoundLookups | None) -> list[OrderRequest]:
    account = order.account
    positions = driver.positions()
    if order.action == Order.Action.CLOSE_TICKET:
        ticket = position_ticket(order)
        if ticket is None:
            raise Refused(f"The position to close on account {account.login} was never opened.")
        positions = _acted_on(positions, ticket)
        if not positions:
            raise Refused(f"No open position {ticket} on account {account.login}.")
    elif order.action == Order.Action.CLOSE_SYMBOL:
        symbol = symbol_of(order, driver, lookups)
        positions = [p for p in positions if p.symbol == symbol]
    if order.side:
        wanted = OrderType.BUY if order.side == "buy" else OrderType.SELL
        positions = [p for p in positions if p.type == wanted]
    if positions and (info := driver.symbol_info(positions[0].symbol)) is not None:
        order.digits = info.digits  # the fill price shown is a close's first position's
    return [
        OrderRequest(
            action=TradeAction.DEAL,
            symbol=p.symbol,
            volume=_close_volume(order, p, driver) if order.action == Order.Action.CLOSE_TICKET else p.volume,
            type=OrderType.SELL if p.type == OrderType.BUY else OrderType.BUY,
            type_filling=filling_choose(driver.symbol_info(p.symbol)),
            position=p.ticket,
            magic=MAGIC,
            comment=order.terminal_comment,
        )
        for p in positions
    ]


def _close_volume(order: Order, position: Position, driver: Driver) -> float:
    """The lots of `position` this close takes: all it may take (_lots_held), or the share or
    lots asked of that, rounded down to the symbol's step (never more than asked)."""
    open_lots = _lots_held(order, position)
    if open_lots <= 0:
        raise Refused(f"Nothing of position {position.ticket} is left of what order {order.position_of_id} opened.")
    whole = position.volume if open_lots >= Decimal(str(position.volume)) else float(open_lots)
    if order.close_fraction is None and order.volume is None:
        return whole
    wanted = close_share(open_lots, order.close_fraction) if order.close_fraction is not None else order.volume
    if wanted >= open_lots:
        return whole
    info = driver.symbol_info(position.symbol)
    if info is None:
        raise Refused(f"{position.symbol} has no specification on account {order.account.login}.")
    try:
        return float(volume_normalize(wanted.quantize(Decimal("0.00000001")), info))
    except PreparationError as error:
        raise Refused(f"Closing part of position {position.ticket}: {error.reason}") from None


def _modify_requests(order: Order, driver: Driver) -> list[OrderRequest]:
    ticket = position_ticket(order)
    found = driver.positions(ticket=ticket) if ticket is not None else []
    if not found and ticket is not None:
        found = _acted_on(driver.positions(), ticket)
    if not found:
        what = f"position {ticket}" if ticket is not None else "position (it was never opened)"
        raise Refused(f"No open {what} on account {order.account.login} to change.")
    position = found[0]
    info = driver.symbol_info(position.symbol)
    if info is None:
        raise Refused(f"{position.symbol} has no specification on account {order.account.login}.")
    order.digits = info.digits
    sl, tp = sltp_on_grid(order, info)
    if (position.sl, position.tp) == (sl, tp):
        return []
    buy = position.type == OrderType.BUY
    try:
        # MT5 measures the stops of an open position from the price it would close at.
        stops_check(
            side="buy" if buy else "sell", price=position.price_current, sl=sl or None, tp=tp or None, info=info
        )
    except PreparationError as error:
        raise Refused(error.reason) from None
    order.symbol = position.symbol
    return [
        OrderRequest(
            action=TradeAction.SLTP,
            symbol=position.symbol,
            sl=sl,
            tp=tp,
            position=position.ticket,
            magic=MAGIC,
            comment=order.terminal_comment,
        )
    ]


# --- opens ------------------------------------------------------------------------------


def _open_request(order: Order, driver: Driver) -> OrderRequest:
    account, symbol = order.account, order.symbol
    info, tick = driver.symbol_info(symbol), driver.tick(symbol)
    if info is None or tick is None:
        raise Refused(f"{symbol} has no quote on account {account.login}.")
    order.digits = info.digits
    buy = order.side == "buy"
    pending = order.order_type in ("limit", "stop")
    try:
        entry = price_round(float(order.price), info) if pending else (tick.ask if buy else tick.bid)
        sl, tp = _open_stops(order, info, entry)
        # MT5 measures stops of a market order from the price it would close at.
        reference = entry if pending else (tick.bid if buy else tick.ask)
        stops_check(side=order.side, price=reference, sl=sl or None, tp=tp or None, info=info)
        volume = _open_volume(order, driver, info, entry=entry, sl=sl)
    except PreparationError as error:
        raise Refused(error.reason) from None
    return OrderRequest(
        action=TradeAction.PENDING if pending else TradeAction.DEAL,
        symbol=symbol,
        volume=float(volume),
        type=ORDER_TYPES[(order.order_type, buy)],
        price=entry,
        sl=sl,
        tp=tp,
        deviation=20,
        type_filling=filling_choose(info),
        magic=MAGIC,
        comment=order.terminal_comment,
    )


def _open_stops(order: Order, info: SymbolInfo, entry: float) -> tuple[float, float]:
    """Stop loss and take profit on the price grid: given as prices, or in pips from `entry`."""
    buy = order.side == "buy"
    sl = price_round(float(order.sl), info) if order.sl is not None else 0.0
    tp = price_round(float(order.tp), info) if order.tp is not None else 0.0
    if order.sl_pips is not None:
        distance = pips_to_price_distance(float(order.sl_pips), info)
        sl = price_round(entry - distance if buy else entry + distance, info)
    if order.tp_pips is not None:
        distance = pips_to_price_distance(float(order.tp_pips), info)
        tp = price_round(entry + distance if buy else entry - distance, info)
    return sl, tp


def _open_volume(order: Order, driver: Driver, info: SymbolInfo, *, entry: float, sl: float) -> Decimal:
    """The lots to open: asked, or sized by risk; within the account's maximum lot and risk per trade."""
    account = order.account
    balance = None
    if order.risk_percent is not None or (account.max_trade_risk_fraction is not None and sl):
        balance = driver.account_info().balance
    if order.sent_volume is not None:
        # Sent before an interruption and not found on the terminal: the same size again, not
        # one sized anew from the balance of now (the trader's order had one size).
        volume = order.sent_volume
    elif order.risk_percent is not None:
        if not sl:
            raise Refused("Sizing by risk needs a stop loss.")
        trade_risk_check(account, risk=order.risk_percent / 100)
        volume = risk_volume(balance=balance, risk_percent=order.risk_percent, entry=entry, stop_loss=sl, info=info)
    else:
        volume = volume_normalize(order.volume, info)
    if account.max_lot is not None and volume > account.max_lot:
        raise Refused(f"{volume} lots is above the account's maximum of {account.max_lot}.")
    if account.max_trade_risk_fraction is not None and sl:
        loss = stop_loss_money(volume=volume, entry=entry, stop_loss=sl, info=info)
        if balance <= 0:
            raise Refused(f"The balance is {balance}: no loss at a stop fits the account's limit per trade.")
        trade_risk_check(account, risk=loss / Decimal(str(balance)), loss=loss)
    return volume
