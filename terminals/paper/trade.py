"""Trading on paper accounts: requests taken or refused, orders filled into positions (hedging or
netting), pending orders and stops that the market reached. Everything here runs in the caller's
transaction with the accounts' rows locked, and changes only Books; Writes stores the changes."""

from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from terminals.drivers.base import DealEntry, DealReason, OrderRequest, OrderResult, OrderType, TradeAction

from .book import Book, Writes
from .market import Market, as_decimal, market_open, quote
from .models import SimAccount, SimDeal, SimOrder, SimPosition
from .stopout import most_losing, stop_out_due
from .validation import DONE, validate

BUYS = (OrderType.BUY, OrderType.BUY_LIMIT, OrderType.BUY_STOP)


@dataclass
class Placing:
    """An order a terminal took in a trade: stored with the others, then filled (a market order)
    or left waiting at its price."""

    order: SimOrder
    pending: bool
    price: float
    position: int | None  # the position a market order closes or reduces
    volume: float
    bid: float
    ask: float
    deal: SimDeal | None = None

    def result(self) -> OrderResult:
        if self.deal is None:
            return OrderResult(retcode=DONE, order=self.order.pk, volume=self.volume, bid=self.bid, ask=self.ask)
        return OrderResult(
            retcode=DONE,
            deal=self.deal.pk,
            order=self.order.pk,
            volume=self.volume,
            price=self.price,
            bid=self.bid,
            ask=self.ask,
        )


def trade_together(
    requests: list[tuple[Book, OrderRequest, Market]], *, reason: int = DealReason.EXPERT
) -> list[OrderResult]:
    """One request on each book, as its terminal would answer it: what the market did before the
    request first, the orders taken stored in one statement (their tickets), then the market
    ones filled; every change written at the end, one statement a kind. `reason`: who sends
    them (ORDER_REASON_*): a program (our orders), or a person at a terminal (hand trades)."""
    writes, answers = Writes(), []
    for book, request, market in requests:
        fill_due(book, market.clock(), writes, market)  # what the market did before this request
        answers.append(accept(book, request, writes, market, reason=reason))
    SimOrder.objects.bulk_create([answer.order for answer in answers if isinstance(answer, Placing)])
    for (book, _, market), answer in zip(requests, answers, strict=True):
        if isinstance(answer, Placing) and not answer.pending:
            answer.deal = fill(
                book, answer.order, answer.price, position_id=answer.position, writes=writes, market=market
            )
    writes.flush()
    return [answer.result() if isinstance(answer, Placing) else answer for answer in answers]


def accept(
    book: Book, request: OrderRequest, writes: Writes, market: Market, *, reason: int = DealReason.EXPERT
) -> OrderResult | Placing:
    """The terminal's answer to a request, or, for an order it takes, the order to place."""
    account = book.account
    if account.inject_retcodes:
        code, *rest = account.inject_retcodes
        account.inject_retcodes = rest
        writes.accounts[account.pk] = account
        spec = market.spec(request.symbol)
        bid, ask = quote(spec, market.clock()) if spec else (0.0, 0.0)
        return OrderResult(retcode=code, bid=bid, ask=ask, comment="injected")
    code, bid, ask = validate(book, request, market)
    if code:
        return OrderResult(retcode=code, bid=bid, ask=ask, volume=request.volume)
    if request.action == TradeAction.REMOVE:
        order = next(o for o in book.pending if o.pk == request.order)
        order.active = False
        book.pending.remove(order)
        writes.orders[order.pk] = order
        return OrderResult(retcode=DONE, order=request.order, bid=bid, ask=ask)
    if request.action == TradeAction.SLTP:
        position = book.position(request.position)
        position.sl, position.tp = request.sl, request.tp
        writes.changed[position.pk] = position
        return OrderResult(retcode=DONE, bid=bid, ask=ask)
    pending = request.action == TradeAction.PENDING
    price = ask if request.type == OrderType.BUY else bid
    order = SimOrder(
        account=account,
        symbol=request.symbol,
        type=request.type,
        volume=as_decimal(request.volume),
        # A market order is stored as executed at the quote; a pending one waits at its price.
        price_open=request.price if pending else price,
        sl=request.sl,
        tp=request.tp,
        magic=request.magic,
        comment=request.comment[:31],
        time_setup_msc=market.clock(),
        active=pending,
        reason=reason,
    )
    if pending:
        book.pending.append(order)
    return Placing(order, pending, price, request.position or None, request.volume, bid, ask)


def fill(
    book: Book, order: SimOrder, price: float, *, position_id: int | None, writes: Writes, market: Market
) -> SimDeal:
    """Execute an order at a price: open, add to, reduce or close a position. The deal carries
    the order's reason and the server's commission, both booked to the balance as MT5 does."""
    account = book.account
    side = OrderType.BUY if order.type in BUYS else OrderType.SELL
    if (order.price_open, order.active) != (price, False):  # a pending order that triggered
        order.price_open, order.active = price, False
        writes.orders[order.pk] = order
    commission = market.terms().commission(order.volume)
    if commission:
        account.balance += commission
        writes.accounts[account.pk] = account
    target = None
    if position_id:
        target = book.position(position_id)
    elif not account.hedging:
        # Netting: one position per symbol; an order in either direction changes it.
        target = next((p for p in book.positions if p.symbol == order.symbol), None)
    deal = partial(_deal, account, order, side=side, price=price, commission=commission, writes=writes, market=market)
    if target is None or target.type == side:
        if target is not None:  # netting, same direction: average the price
            total = target.volume + order.volume
            target.price_open = (target.price_open * float(target.volume) + price * float(order.volume)) / float(total)
            target.volume = total
            writes.changed[target.pk] = target
            position = target
        else:
            position = _open(book, order, side, order.volume, price, writes, market, sl=order.sl, tp=order.tp)
        return deal(position_id=position.pk, entry=DealEntry.IN, profit=Decimal("0"))
    closing = min(order.volume, target.volume)
    profit = as_decimal(round(market.profit(target, price=price, volume=float(closing)), 2))
    account.balance += profit
    writes.accounts[account.pk] = account
    entry, closed_id = DealEntry.OUT, target.pk
    remaining = target.volume - closing
    if remaining > 0:
        target.volume = remaining
        writes.changed[target.pk] = target
    else:
        book.positions.remove(target)
        writes.closed.add(target.pk)
        leftover = order.volume - closing
        if leftover > 0:  # netting flip: the rest opens the other way
            entry = DealEntry.INOUT
            _open(book, order, side, leftover, price, writes, market)
    return deal(position_id=closed_id, entry=entry, profit=profit)


def _open(
    book: Book, order: SimOrder, side: int, volume: Decimal, price: float, writes: Writes, market: Market, **stops
) -> SimPosition:
    position = SimPosition(
        id=order.pk,  # MT5: a position's ticket is the ticket of the order that opened it
        account=book.account,
        symbol=order.symbol,
        type=side,
        volume=volume,
        price_open=price,
        magic=order.magic,
        comment=order.comment,
        time_msc=market.clock(),
        **stops,
    )
    book.positions.append(position)  # the newest ticket: the list stays oldest first
    writes.opened[position.pk] = position
    return position


def _deal(
    account: SimAccount,
    order: SimOrder,
    *,
    position_id: int,
    side: int,
    entry: int,
    price: float,
    profit: Decimal,
    commission: Decimal,
    writes: Writes,
    market: Market,
) -> SimDeal:
    deal = SimDeal(
        account=account,
        order=order.pk,
        position_id=position_id,
        symbol=order.symbol,
        type=side,
        entry=entry,
        volume=order.volume,
        price=price,
        profit=profit,
        magic=order.magic,
        comment=order.comment,
        time_msc=market.clock(),
        reason=order.reason,
        commission=commission,
    )
    writes.deals.append(deal)
    return deal


def fill_due(book: Book, at: int, writes: Writes, market: Market) -> None:
    """Fill the triggered pending orders, close the positions whose SL or TP was hit, then
    stop the account out while its margin level is below the server's stop-out level."""
    orders, hits = due(book, at, market)
    for order, price in orders:
        book.pending.remove(order)
        fill(book, order, price, position_id=None, writes=writes, market=market)
    for position, exit_price, hit_sl in hits:
        if position not in book.positions:  # a netting fill above took it
            continue
        # MT5 books the close with the level in the comment, at the symbol's digits.
        digits = market.spec(position.symbol).info.digits
        comment, reason = ("[sl", DealReason.SL) if hit_sl else ("[tp", DealReason.TP)
        _broker_close(book, position, exit_price, f"{comment} {exit_price:.{digits}f}]", reason, at, writes, market)
    while (level := stop_out_due(book, market)) is not None and (worst := most_losing(book, at, market)):
        position, price = worst
        _broker_close(book, position, price, f"[so {level:.2f}%]", DealReason.SO, at, writes, market)


def _broker_close(
    book: Book, position: SimPosition, price: float, comment: str, reason: int, at: int, writes: Writes, market: Market
) -> None:
    """The trade server closes a whole position itself (SL, TP, stop-out): an order of its own."""
    closer = SimOrder.objects.create(
        account=book.account,
        symbol=position.symbol,
        type=OrderType.SELL if position.type == OrderType.BUY else OrderType.BUY,
        volume=position.volume,
        price_open=price,
        comment=comment,
        time_setup_msc=at,
        active=False,
        reason=reason,
    )
    fill(book, closer, price, position_id=position.pk, writes=writes, market=market)


def due(book: Book, at: int, market: Market) -> tuple[list, list]:
    """Pending orders whose price was reached (with the fill price) and positions whose
    SL or TP was hit (with the exit price and whether it was the SL), in an open market."""
    orders = []
    for order in book.pending:
        spec = market.spec(order.symbol)
        bid, ask = quote(spec, at)
        triggered = {
            OrderType.BUY_LIMIT: ask <= order.price_open,
            OrderType.BUY_STOP: ask >= order.price_open,
            OrderType.SELL_LIMIT: bid >= order.price_open,
            OrderType.SELL_STOP: bid <= order.price_open,
        }[OrderType(order.type)]
        if triggered and market_open(spec.session, at):
            orders.append((order, ask if order.type in BUYS else bid))
    positions = []
    for position in book.positions:
        if not (position.sl or position.tp):
            continue
        spec = market.spec(position.symbol)
        bid, ask = quote(spec, at)
        buy = position.type == OrderType.BUY
        price = bid if buy else ask
        hit_sl = bool(position.sl) and (price <= position.sl if buy else price >= position.sl)
        hit_tp = bool(position.tp) and (price >= position.tp if buy else price <= position.tp)
        if (hit_sl or hit_tp) and market_open(spec.session, at):
            positions.append((position, position.sl if hit_sl else position.tp, hit_sl))
    return orders, positions
