"""Whether the paper broker takes a request, answered with MT5's own retcodes as a real trade server
would: wrong volume step, stops too close, a closed market, too little margin."""

import math
from decimal import ROUND_HALF_EVEN, Decimal

from terminals.drivers.base import Filling, OrderRequest, OrderType, SymbolInfo, TradeAction, TradeMode

from .book import Book
from .market import FOK, IOC, Market, as_decimal, market_open, quote
from .models import SimAccount, SimPosition

DONE, PLACED, NO_CHANGES = 10009, 10008, 10025
INVALID, INVALID_VOLUME, INVALID_PRICE, INVALID_STOPS = 10013, 10014, 10015, 10016
TRADE_DISABLED, MARKET_CLOSED, NO_MONEY, INVALID_FILL = 10017, 10018, 10019, 10030
REQUOTE, INVALID_ORDER, POSITION_CLOSED, INVALID_CLOSE_VOLUME = 10004, 10035, 10036, 10038
AUTH_FAILED = -6


def validate(book: Book, request: OrderRequest, market: Market) -> tuple[int, float, float]:
    """0 when the request would be executed, else MT5's retcode; with the current quote."""
    if request.action == TradeAction.REMOVE:
        # MT5 needs only the order's ticket to remove it.
        exists = any(order.pk == request.order for order in book.pending)
        return (0 if exists else INVALID_ORDER), 0.0, 0.0
    spec = market.spec(request.symbol)
    if spec is None:
        return INVALID, 0.0, 0.0
    info, at = spec.info, market.clock()
    bid, ask = quote(spec, at)
    if request.action not in (TradeAction.DEAL, TradeAction.PENDING, TradeAction.SLTP):
        code = INVALID
    elif not market_open(spec.session, at):
        code = MARKET_CLOSED
    elif info.trade_mode == TradeMode.DISABLED:
        code = TRADE_DISABLED
    elif request.action == TradeAction.SLTP:
        code = _stops_change_refusal(book, request, info, bid, ask)
    elif not volume_valid(info, request.volume):
        code = INVALID_VOLUME
    elif request.action == TradeAction.DEAL:
        code = _market_order_refusal(book, request, info, bid, ask, market)
    else:
        code = _pending_order_refusal(book, request, info, bid, ask, market)
    return code, bid, ask


def _stops_change_refusal(book: Book, request: OrderRequest, info: SymbolInfo, bid: float, ask: float) -> int:
    position = position_of(book.positions, request)
    if position is None:
        return POSITION_CLOSED
    price = bid if position.type == OrderType.BUY else ask
    if not stops_valid(info, position.type, price, request.sl, request.tp):
        return INVALID_STOPS
    if (position.sl, position.tp) == (request.sl, request.tp):
        return NO_CHANGES
    return 0


def _market_order_refusal(
    book: Book, request: OrderRequest, info: SymbolInfo, bid: float, ask: float, market: Market
) -> int:
    if request.type not in (OrderType.BUY, OrderType.SELL):
        return INVALID_ORDER
    allowed = {Filling.FOK: info.filling_mode & FOK, Filling.IOC: info.filling_mode & IOC}
    if not allowed.get(request.type_filling):
        return INVALID_FILL
    price = ask if request.type == OrderType.BUY else bid
    if request.price and abs(request.price - price) > request.deviation * info.point + 1e-12:
        return REQUOTE
    if request.position:
        position = position_of(book.positions, request)
        if position is None:
            return POSITION_CLOSED
        if position.type == request.type:
            return INVALID_ORDER
        if as_decimal(request.volume) > position.volume:
            return INVALID_CLOSE_VOLUME
        return 0
    if not stops_valid(info, request.type, price, request.sl, request.tp):
        return INVALID_STOPS
    if not affordable(book.account, book.positions, request.symbol, request.volume, price, market):
        return NO_MONEY
    return 0


def _pending_order_refusal(
    book: Book, request: OrderRequest, info: SymbolInfo, bid: float, ask: float, market: Market
) -> int:
    # Limits below (buy) or above (sell) the market, stops the other way.
    if request.type not in (OrderType.BUY_LIMIT, OrderType.SELL_LIMIT, OrderType.BUY_STOP, OrderType.SELL_STOP):
        return INVALID_ORDER
    buy = request.type in (OrderType.BUY_LIMIT, OrderType.BUY_STOP)
    price = ask if buy else bid
    distance = info.trade_stops_level * info.point
    below = request.price <= price - distance
    above = request.price >= price + distance
    side_ok = {
        OrderType.BUY_LIMIT: below,
        OrderType.SELL_STOP: below,
        OrderType.SELL_LIMIT: above,
        OrderType.BUY_STOP: above,
    }[OrderType(request.type)]
    if request.price <= 0 or not side_ok:
        return INVALID_PRICE
    side = OrderType.BUY if buy else OrderType.SELL
    if not stops_valid(info, side, request.price, request.sl, request.tp):
        return INVALID_STOPS
    if not affordable(book.account, book.positions, request.symbol, request.volume, request.price, market):
        return NO_MONEY
    return 0


def volume_valid(info: SymbolInfo, volume: float) -> bool:
    if not (isinstance(volume, int | float) and math.isfinite(volume)):
        return False
    if volume < info.volume_min - 1e-9 or volume > info.volume_max + 1e-9:
        return False
    step = as_decimal(info.volume_step)
    steps = (as_decimal(volume) / step).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN)
    return abs(steps * step - as_decimal(volume)) < Decimal("1e-9")


def stops_valid(info: SymbolInfo, side: int, price: float, sl: float, tp: float) -> bool:
    distance = info.trade_stops_level * info.point
    buy = side == OrderType.BUY
    if sl and not (sl <= price - distance if buy else sl >= price + distance):
        return False
    return not (tp and not (tp >= price + distance if buy else tp <= price - distance))


def affordable(
    account: SimAccount, positions: list[SimPosition], symbol: str, volume: float, price: float, market: Market
) -> bool:
    used = market.margin_used(positions, account.leverage)
    equity = float(account.balance) + sum(market.profit(p) for p in positions)
    return equity - used >= market.margin(symbol, volume, price, account.leverage)


def position_of(positions: list[SimPosition], request: OrderRequest) -> SimPosition | None:
    return next((p for p in positions if p.pk == request.position and p.symbol == request.symbol), None)
