"""A paper broker that behaves like an MT5 terminal: the default on Linux, in the demo
and in tests, and the trading engine behind the test doubles of the other drivers.

Symbols carry real specifications (digits, tick size/value, contract size, volume
limits, filling modes, stop levels, sessions); bid/ask move with time; positions,
pending orders, deals, balance, equity and margin live in the database so every worker
process sees the same terminal; bad requests get MT5's own retcodes. The simulated
broker opens a paper account the first time a login is used and checks the password
on every later connect.
"""

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction

from mt5saas.db import rows_update
from terminals.models import SimAccount, SimDeal, SimOrder, SimPosition

from .base import (
    AccountInfo,
    Deal,
    DealEntry,
    Driver,
    Filling,
    MarginMode,
    OrderRequest,
    OrderResult,
    OrderType,
    PendingOrder,
    Position,
    SymbolFillingFlag,
    SymbolInfo,
    TerminalError,
    Tick,
    TradeAction,
    TradeMode,
)

DONE, PLACED, NO_CHANGES = 10009, 10008, 10025
INVALID, INVALID_VOLUME, INVALID_PRICE, INVALID_STOPS = 10013, 10014, 10015, 10016
TRADE_DISABLED, MARKET_CLOSED, NO_MONEY, INVALID_FILL = 10017, 10018, 10019, 10030
REQUOTE, INVALID_ORDER, POSITION_CLOSED, INVALID_CLOSE_VOLUME = 10004, 10035, 10036, 10038
AUTH_FAILED = -6


@dataclass(frozen=True)
class SymbolSpec:
    info: SymbolInfo
    base_price: float
    spread_points: int
    session: str  # "fx": closed at weekends; "cfd": also 21:00-22:00 UTC daily; "crypto": always


def _spec(name, description, digits, contract, tick_value, vmin, vstep, vmax, filling, stops, price, spread, session):
    point = 10.0**-digits
    info = SymbolInfo(
        name=name,
        description=description,
        digits=digits,
        point=point,
        trade_tick_size=point,
        trade_tick_value=tick_value,
        trade_contract_size=contract,
        volume_min=vmin,
        volume_step=vstep,
        volume_max=vmax,
        filling_mode=filling,
        trade_stops_level=stops,
    )
    return SymbolSpec(info, price, spread, session)


FOK, IOC = SymbolFillingFlag.FOK, SymbolFillingFlag.IOC
# Two brokers: one with the plain names TradingView uses, one with the suffixes and
# aliases real brokers use, so symbol mapping is exercised.
SERVERS: dict[str, dict[str, SymbolSpec]] = {
    "SimStandard-Demo": {
        s.info.name: s
        for s in [
            _spec("EURUSD", "Euro vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 100, FOK | IOC, 10, 1.0850, 12, "fx"),
            _spec("GBPUSD", "Pound vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 100, FOK | IOC, 10, 1.2700, 15, "fx"),
            _spec("XAUUSD", "Gold vs US Dollar", 2, 100, 1.0, 0.01, 0.01, 50, FOK | IOC, 50, 2400.00, 30, "cfd"),
            _spec("XAGUSD", "Silver vs US Dollar", 3, 5000, 5.0, 0.01, 0.01, 50, FOK | IOC, 50, 30.000, 30, "cfd"),
            _spec("US30", "Dow Jones 30", 1, 1, 0.1, 0.1, 0.1, 100, FOK | IOC, 20, 39000.0, 20, "cfd"),
            _spec("USTEC", "Nasdaq 100", 1, 1, 0.1, 0.1, 0.1, 100, FOK | IOC, 20, 18500.0, 15, "cfd"),
            _spec("UKOIL", "Brent Crude Oil", 2, 1000, 10.0, 0.01, 0.01, 50, FOK | IOC, 20, 82.00, 5, "cfd"),
            _spec("BTCUSD", "Bitcoin vs US Dollar", 2, 1, 0.01, 0.01, 0.01, 10, FOK | IOC, 0, 65000.00, 2500, "crypto"),
            _spec("ETHUSD", "Ethereum vs US Dollar", 2, 1, 0.01, 0.01, 0.01, 50, FOK | IOC, 0, 3200.00, 150, "crypto"),
        ]
    },
    "SimBroker-Demo": {
        s.info.name: s
        for s in [
            _spec("EURUSD.m", "Euro vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 50, FOK, 10, 1.0850, 14, "fx"),
            _spec("GBPUSD.m", "Pound vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 50, FOK, 10, 1.2700, 18, "fx"),
            _spec("GOLD", "Gold Spot", 2, 100, 1.0, 0.01, 0.01, 20, IOC, 100, 2400.00, 35, "cfd"),
            _spec("SILVER", "Silver Spot", 3, 5000, 5.0, 0.01, 0.01, 20, IOC, 100, 30.000, 35, "cfd"),
            _spec("US30.cash", "US Wall Street 30 Cash", 1, 1, 0.1, 0.1, 0.1, 50, IOC, 30, 39000.0, 25, "cfd"),
            _spec("NAS100.cash", "US Tech 100 Cash", 1, 1, 0.1, 0.1, 0.1, 50, IOC, 30, 18500.0, 20, "cfd"),
            _spec("USOIL.cash", "US Crude Oil Cash", 2, 1000, 10.0, 0.01, 0.01, 50, IOC, 30, 78.00, 6, "cfd"),
            _spec("BTCUSD", "Bitcoin", 2, 1, 0.01, 0.01, 0.01, 5, FOK | IOC, 0, 65000.00, 3000, "crypto"),
        ]
    },
}


def now_msc() -> int:
    return time.time_ns() // 1_000_000


def market_open(session: str, at_msc: int) -> bool:
    moment = datetime.fromtimestamp(at_msc / 1000, tz=UTC)
    if session == "crypto":
        return True
    weekday, hour = moment.weekday(), moment.hour
    # FX week: Sunday 22:00 to Friday 22:00 UTC.
    if weekday == 5 or (weekday == 4 and hour >= 22) or (weekday == 6 and hour < 22):
        return False
    return not (session == "cfd" and hour == 21)


def quote(spec: SymbolSpec, at_msc: int) -> tuple[float, float]:
    """Bid and ask at a moment: slow and fast waves plus per-second noise, the same in
    every process (a function of symbol and time, not of state)."""
    t = at_msc / 1000
    second = int(t)
    noise = int.from_bytes(hashlib.blake2b(f"{spec.info.name}:{second}".encode(), digest_size=4).digest()) / 2**32
    move = 0.004 * math.sin(2 * math.pi * t / 3600) + 0.0008 * math.sin(2 * math.pi * t / 97) + 0.0002 * (noise - 0.5)
    point = spec.info.point
    mid = spec.base_price * (1 + move)
    bid = round(round(mid / point - spec.spread_points / 2) * point, spec.info.digits)
    ask = round(bid + spec.spread_points * point, spec.info.digits)
    return bid, ask


def _password_hash(password: str, salt: str | None = None) -> str:
    # A paper account's password, checked on every connect: salted SHA-256 keeps that in
    # microseconds (a PBKDF2 check would cost every simulated read a third of a second).
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256(f'{salt}:{password}'.encode()).hexdigest()}"


def _password_ok(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$", 2) if stored.count("$") >= 2 else ("", "", "")
    return bool(salt) and hmac.compare_digest(_password_hash(password, salt), stored)


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


@dataclass
class _Book:
    """A paper account as a terminal call sees it: its row, open positions (oldest first) and
    pending orders. In a trade, kept as the trade changes them (_Writes writes the changes)."""

    account: SimAccount
    positions: list[SimPosition]
    pending: list[SimOrder]

    def position(self, ticket: int) -> SimPosition:
        return next(p for p in self.positions if p.pk == ticket)


def _books(accounts) -> dict[int, _Book]:
    """These accounts (a queryset) with their positions and pending orders: three queries for any number."""
    books = {account.pk: _Book(account, [], []) for account in accounts}
    for position in SimPosition.objects.filter(account_id__in=books).order_by("pk"):
        books[position.account_id].positions.append(position)
    for order in SimOrder.objects.filter(account_id__in=books, active=True).order_by("pk"):
        books[order.account_id].pending.append(order)
    return books


class _Writes:
    """What a trade changed on its accounts, written at its end in one statement a kind,
    whatever the number of accounts."""

    def __init__(self) -> None:
        self.deals: list[SimDeal] = []
        self.opened: dict[int, SimPosition] = {}
        self.changed: dict[int, SimPosition] = {}
        self.closed: set[int] = set()
        self.orders: dict[int, SimOrder] = {}  # pending orders filled or removed
        self.accounts: dict[int, SimAccount] = {}  # balance or injected retcodes

    def flush(self) -> None:
        if gone := self.closed - self.opened.keys():
            SimPosition.objects.filter(pk__in=gone).delete()
        SimPosition.objects.bulk_create([p for pk, p in self.opened.items() if pk not in self.closed])
        changed = [p for pk, p in self.changed.items() if pk not in self.opened and pk not in self.closed]
        rows_update(changed, ["volume", "price_open", "sl", "tp"])
        rows_update(list(self.orders.values()), ["price_open", "active"])
        rows_update(list(self.accounts.values()), ["balance", "inject_retcodes"])
        SimDeal.objects.bulk_create(self.deals)  # sets their keys (PostgreSQL, SQLite ≥ 3.35)


@dataclass
class _Placing:
    """An order a terminal took in order_send_together: stored with the others, then filled
    (a market order) or left waiting at its price."""

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


_read_together: ContextVar[dict[tuple[str, int], _Book] | None] = ContextVar("read_together", default=None)


@contextmanager
def read_together(logins: Iterable[tuple[str, int | str]]) -> Iterator[None]:
    """The paper terminals of these (server, login) read at once, in three queries instead of
    three each, for the host agent's round: the first driver that logs in to one of them
    meanwhile takes its reading, for its log-in and its first account_info(). Every other
    read is fresh (the copy watcher compares positions with deals read now), and so is what
    a write reads, under the account's lock."""
    wanted = {(server, int(login)) for server, login in logins}
    rows = SimAccount.objects.filter(server__in={s for s, _ in wanted}, login__in={login for _, login in wanted})
    books = _books([a for a in rows if (a.server, a.login) in wanted])
    token = _read_together.set({(b.account.server, b.account.login): b for b in books.values()})
    try:
        yield
    finally:
        _read_together.reset(token)


class SimulatedDriver(Driver):
    def __init__(self, *, clock: Callable[[], int] = now_msc) -> None:
        self.clock = clock
        self.account_id: int | None = None
        self.server: str | None = None
        self._reading: _Book | None = None  # from read_together, for the first account_info()

    # --- session ---------------------------------------------------------------

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        return self.account_info(self.log_in(login=login, password=password, server=server))

    def log_in(self, *, login: int, password: str, server: str) -> SimAccount:
        """connect() without reading the account's figures (what the order pipeline needs)."""
        if server not in SERVERS:
            raise TerminalError(AUTH_FAILED, f"Authorization failed: unknown trade server {server[:100]!r}")
        together = _read_together.get() or {}
        reading = together.get((server, int(login)))
        # A plain read first: the write transaction (SQLite's one writer) only for a new account.
        account = reading.account if reading else SimAccount.objects.filter(server=server, login=int(login)).first()
        created = False
        if account is None:
            with transaction.atomic():
                account, created = SimAccount.objects.get_or_create(
                    server=server, login=int(login), defaults={"password_hash": _password_hash(password)}
                )
        if not created and not _password_ok(password, account.password_hash):
            raise TerminalError(AUTH_FAILED, "Authorization failed: invalid account or password")
        together.pop((server, int(login)), None)  # for this driver alone: another one reads afresh
        self.account_id, self.server, self._reading = account.pk, server, reading
        return account

    def shutdown(self) -> None:
        self.account_id, self._reading = None, None

    def _connected(self) -> None:
        if self.account_id is None:
            raise TerminalError(-10004, "Not connected to a terminal")

    def _account(self) -> SimAccount:
        self._connected()
        return SimAccount.objects.get(pk=self.account_id)

    def _spec(self, symbol: str) -> SymbolSpec | None:
        return SERVERS[self.server].get(symbol) if self.server else None

    # --- reads -----------------------------------------------------------------

    def account_info(self, account: SimAccount | None = None) -> AccountInfo:
        reading, self._reading = self._reading, None
        book = self._settle(account, reading)
        account, positions = book.account, book.positions
        profit = sum(self._profit(p) for p in positions)
        margin = sum(self._margin(p.symbol, float(p.volume), p.price_open, account.leverage) for p in positions)
        equity = float(account.balance) + profit
        return AccountInfo(
            login=account.login,
            server=account.server,
            name=account.name or f"Paper {account.login}",
            currency=account.currency,
            leverage=account.leverage,
            balance=float(account.balance),
            equity=round(equity, 2),
            margin=round(margin, 2),
            margin_free=round(equity - margin, 2),
            profit=round(profit, 2),
            margin_mode=MarginMode.RETAIL_HEDGING if account.hedging else MarginMode.RETAIL_NETTING,
        )

    # Symbols and quotes are the server's, not the account's: no read of the account for them.
    def symbols(self) -> list[str]:
        self._connected()
        return list(SERVERS[self.server])

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        self._connected()
        spec = self._spec(symbol)
        return spec.info if spec else None

    def tick(self, symbol: str) -> Tick | None:
        self._connected()
        spec = self._spec(symbol)
        if spec is None:
            return None
        at = self.clock()
        bid, ask = quote(spec, at)
        return Tick(symbol, bid, ask, at)

    def positions(self, *, symbol: str | None = None, ticket: int | None = None) -> list[Position]:
        rows = self._settle().positions
        rows = [row for row in rows if (not symbol or row.symbol == symbol) and (not ticket or row.pk == ticket)]
        return [self._position(row) for row in rows]

    def orders(self, *, symbol: str | None = None) -> list[PendingOrder]:
        return [
            PendingOrder(
                ticket=row.pk,
                symbol=row.symbol,
                type=row.type,
                volume_initial=float(row.volume),
                volume_current=float(row.volume),
                price_open=row.price_open,
                sl=row.sl,
                tp=row.tp,
                magic=row.magic,
                comment=row.comment,
                time_setup_msc=row.time_setup_msc,
            )
            for row in self._settle().pending
            if not symbol or row.symbol == symbol
        ]

    def deals(self, *, since: datetime, until: datetime) -> list[Deal]:
        account = self._settle().account
        rows = account.deals.filter(
            time_msc__gte=int(since.timestamp() * 1000), time_msc__lte=int(until.timestamp() * 1000)
        )
        return [
            Deal(
                ticket=row.pk,
                order=row.order,
                position_id=row.position_id,
                symbol=row.symbol,
                type=row.type,
                entry=row.entry,
                volume=float(row.volume),
                price=row.price,
                profit=float(row.profit),
                magic=row.magic,
                comment=row.comment,
                time_msc=row.time_msc,
            )
            for row in rows.order_by("pk")
        ]

    # --- trading ---------------------------------------------------------------

    def order_check(self, request: OrderRequest) -> OrderResult:
        code, bid, ask = self._validate(self._settle(), request)
        return OrderResult(retcode=code or 0, bid=bid, ask=ask, volume=request.volume)

    def order_send(self, request: OrderRequest) -> OrderResult:
        [result] = self.order_send_together([(self, request)])
        return result

    @staticmethod
    def order_send_together(sends: list[tuple["SimulatedDriver", OrderRequest]]) -> list[OrderResult]:
        """order_send of several paper terminals, one request each, at the same moment: one
        transaction that locks their accounts (in key order: two such calls cannot deadlock)
        and reads and writes them in a few statements whatever their number, where one by one
        would take eight each. A copy's fan-out sends this way."""
        for driver, _ in sends:
            driver._connected()
            driver._reading = None  # what was read together is out of date once this driver trades
        if len({driver.account_id for driver, _ in sends}) < len(sends):
            raise ValueError("one request per account")
        with transaction.atomic():
            books = _books(
                SimAccount.objects.select_for_update().filter(pk__in=[d.account_id for d, _ in sends]).order_by("pk")
            )
            writes, answers, placing = _Writes(), [], []
            for driver, request in sends:
                book = books[driver.account_id]
                driver._fill_due(book, driver.clock(), writes)  # what the market did before this request
                answer = driver._accept(book, request, writes)
                answers.append(answer)
                if isinstance(answer, _Placing):
                    placing.append(answer)
            SimOrder.objects.bulk_create([p.order for p in placing])  # their tickets, in one statement
            for (driver, _), answer in zip(sends, answers, strict=True):
                if isinstance(answer, _Placing) and not answer.pending:
                    answer.deal = driver._fill(
                        books[driver.account_id], answer.order, answer.price, position_id=answer.position, writes=writes
                    )
            writes.flush()
        return [answer.result() if isinstance(answer, _Placing) else answer for answer in answers]

    def _accept(self, book: _Book, request: OrderRequest, writes: _Writes) -> "OrderResult | _Placing":
        """The terminal's answer to a request, or, for an order it takes, the order to place."""
        account = book.account
        if account.inject_retcodes:
            code, *rest = account.inject_retcodes
            account.inject_retcodes = rest
            writes.accounts[account.pk] = account
            spec = self._spec(request.symbol)
            bid, ask = quote(spec, self.clock()) if spec else (0.0, 0.0)
            return OrderResult(retcode=code, bid=bid, ask=ask, comment="injected")
        code, bid, ask = self._validate(book, request)
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
            volume=_dec(request.volume),
            # A market order is stored as executed at the quote; a pending one waits at its price.
            price_open=request.price if pending else price,
            sl=request.sl,
            tp=request.tp,
            magic=request.magic,
            comment=request.comment[:31],
            time_setup_msc=self.clock(),
            active=pending,
        )
        if pending:
            book.pending.append(order)
        return _Placing(order, pending, price, request.position or None, request.volume, bid, ask)

    def _validate(self, book: _Book, request: OrderRequest) -> tuple[int, float, float]:
        """0 when the request would be executed, else MT5's retcode; with the current quote."""
        account, positions = book.account, book.positions
        if request.action == TradeAction.REMOVE:
            # MT5 needs only the order's ticket to remove it.
            exists = any(order.pk == request.order for order in book.pending)
            return (0 if exists else INVALID_ORDER), 0.0, 0.0
        spec = self._spec(request.symbol)
        if spec is None:
            return INVALID, 0.0, 0.0
        info, at = spec.info, self.clock()
        bid, ask = quote(spec, at)
        if request.action not in (TradeAction.DEAL, TradeAction.PENDING, TradeAction.SLTP):
            return INVALID, bid, ask
        if not market_open(spec.session, at):
            return MARKET_CLOSED, bid, ask
        if info.trade_mode == TradeMode.DISABLED:
            return TRADE_DISABLED, bid, ask
        if request.action == TradeAction.SLTP:
            position = _position_of(positions, request)
            if position is None:
                return POSITION_CLOSED, bid, ask
            price = bid if position.type == OrderType.BUY else ask
            if not self._stops_valid(info, position.type, price, request.sl, request.tp):
                return INVALID_STOPS, bid, ask
            if (position.sl, position.tp) == (request.sl, request.tp):
                return NO_CHANGES, bid, ask
            return 0, bid, ask
        if not self._volume_valid(info, request.volume):
            return INVALID_VOLUME, bid, ask
        if request.action == TradeAction.DEAL:
            if request.type not in (OrderType.BUY, OrderType.SELL):
                return INVALID_ORDER, bid, ask
            allowed = {Filling.FOK: info.filling_mode & FOK, Filling.IOC: info.filling_mode & IOC}
            if not allowed.get(request.type_filling):
                return INVALID_FILL, bid, ask
            market = ask if request.type == OrderType.BUY else bid
            if request.price and abs(request.price - market) > request.deviation * info.point + 1e-12:
                return REQUOTE, bid, ask
            if request.position:
                position = _position_of(positions, request)
                if position is None:
                    return POSITION_CLOSED, bid, ask
                if position.type == request.type:
                    return INVALID_ORDER, bid, ask
                if _dec(request.volume) > position.volume:
                    return INVALID_CLOSE_VOLUME, bid, ask
                return 0, bid, ask
            if not self._stops_valid(info, request.type, market, request.sl, request.tp):
                return INVALID_STOPS, bid, ask
            if not self._affordable(account, positions, request.symbol, request.volume, market):
                return NO_MONEY, bid, ask
            return 0, bid, ask
        # Pending orders: limits below (buy) or above (sell) the market, stops the other way.
        if request.type not in (OrderType.BUY_LIMIT, OrderType.SELL_LIMIT, OrderType.BUY_STOP, OrderType.SELL_STOP):
            return INVALID_ORDER, bid, ask
        buy = request.type in (OrderType.BUY_LIMIT, OrderType.BUY_STOP)
        market = ask if buy else bid
        distance = info.trade_stops_level * info.point
        below = request.price <= market - distance
        above = request.price >= market + distance
        side_ok = {
            OrderType.BUY_LIMIT: below,
            OrderType.SELL_STOP: below,
            OrderType.SELL_LIMIT: above,
            OrderType.BUY_STOP: above,
        }[OrderType(request.type)]
        if request.price <= 0 or not side_ok:
            return INVALID_PRICE, bid, ask
        side = OrderType.BUY if buy else OrderType.SELL
        if not self._stops_valid(info, side, request.price, request.sl, request.tp):
            return INVALID_STOPS, bid, ask
        if not self._affordable(account, positions, request.symbol, request.volume, request.price):
            return NO_MONEY, bid, ask
        return 0, bid, ask

    def _fill(self, book: _Book, order: SimOrder, price: float, *, position_id: int | None, writes: _Writes) -> SimDeal:
        """Execute an order at a price: open, add to, reduce or close a position."""
        account = book.account
        side = (
            OrderType.BUY if order.type in (OrderType.BUY, OrderType.BUY_LIMIT, OrderType.BUY_STOP) else OrderType.SELL
        )
        if (order.price_open, order.active) != (price, False):  # a pending order that triggered
            order.price_open, order.active = price, False
            writes.orders[order.pk] = order
        target = None
        if position_id:
            target = book.position(position_id)
        elif not account.hedging:
            # Netting: one position per symbol; an order in either direction changes it.
            target = next((p for p in book.positions if p.symbol == order.symbol), None)
        if target is None or target.type == side:
            if target is not None:  # netting, same direction: average the price
                total = target.volume + order.volume
                target.price_open = (target.price_open * float(target.volume) + price * float(order.volume)) / float(
                    total
                )
                target.volume = total
                writes.changed[target.pk] = target
                position = target
            else:
                position = self._open(book, order, side, order.volume, price, writes, sl=order.sl, tp=order.tp)
            return self._deal(
                account, order, position.pk, side, DealEntry.IN, order.volume, price, Decimal("0"), writes
            )
        closing = min(order.volume, target.volume)
        profit = _dec(round(self._profit(target, price=price, volume=float(closing)), 2))
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
                self._open(book, order, side, leftover, price, writes)
        return self._deal(account, order, closed_id, side, entry, order.volume, price, profit, writes)

    def _open(
        self, book: _Book, order: SimOrder, side: int, volume: Decimal, price: float, writes: _Writes, **stops
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
            time_msc=self.clock(),
            **stops,
        )
        book.positions.append(position)  # the newest ticket: the list stays oldest first
        writes.opened[position.pk] = position
        return position

    def _deal(self, account, order, position_id, side, entry, volume, price, profit, writes: _Writes) -> SimDeal:
        deal = SimDeal(
            account=account,
            order=order.pk,
            position_id=position_id,
            symbol=order.symbol,
            type=side,
            entry=entry,
            volume=volume,
            price=price,
            profit=profit,
            magic=order.magic,
            comment=order.comment,
            time_msc=self.clock(),
        )
        writes.deals.append(deal)
        return deal

    def _settle(self, account: SimAccount | None = None, reading: _Book | None = None) -> _Book:
        """What the market did since the last look: pending orders that triggered and
        positions whose stop loss or take profit was reached. Returns the account as it is
        afterwards. `account`: its row, just read; `reading`: the account read together with
        others."""
        at = self.clock()
        # Look first without the write lock: most calls find nothing to do, and readers
        # must not queue behind each other for SQLite's one writer.
        if reading is None:
            account = account or self._account()
            reading = _books([account])[account.pk]
        if not any(self._due(reading, at)):
            return reading
        with transaction.atomic():
            book = _books(SimAccount.objects.select_for_update().filter(pk=self.account_id))[self.account_id]
            writes = _Writes()
            self._fill_due(book, at, writes)
            writes.flush()
            return book

    def _fill_due(self, book: _Book, at: int, writes: _Writes) -> None:
        """Fill the triggered pending orders and close the positions whose SL or TP was hit;
        in the caller's transaction, with the account's row locked."""
        orders, due = self._due(book, at)
        for order, price in orders:
            book.pending.remove(order)
            self._fill(book, order, price, position_id=None, writes=writes)
        for position, exit_price, hit_sl in due:
            if position not in book.positions:  # a netting fill above took it
                continue
            closer = SimOrder.objects.create(
                account=book.account,
                symbol=position.symbol,
                type=OrderType.SELL if position.type == OrderType.BUY else OrderType.BUY,
                volume=position.volume,
                price_open=exit_price,
                comment=("[sl " if hit_sl else "[tp ") + f"{exit_price}]",
                time_setup_msc=at,
                active=False,
            )
            self._fill(book, closer, exit_price, position_id=position.pk, writes=writes)

    def _due(self, book: _Book, at: int) -> tuple[list, list]:
        """Pending orders whose price was reached (with the fill price) and positions whose
        SL or TP was hit (with the exit price), in an open market."""
        orders = []
        for order in book.pending:
            spec = self._spec(order.symbol)
            bid, ask = quote(spec, at)
            triggered = {
                OrderType.BUY_LIMIT: ask <= order.price_open,
                OrderType.BUY_STOP: ask >= order.price_open,
                OrderType.SELL_LIMIT: bid >= order.price_open,
                OrderType.SELL_STOP: bid <= order.price_open,
            }[OrderType(order.type)]
            if triggered and market_open(spec.session, at):
                orders.append((order, ask if order.type in (OrderType.BUY_LIMIT, OrderType.BUY_STOP) else bid))
        positions = []
        for position in book.positions:
            if not (position.sl or position.tp):
                continue
            spec = self._spec(position.symbol)
            bid, ask = quote(spec, at)
            buy = position.type == OrderType.BUY
            price = bid if buy else ask
            hit_sl = bool(position.sl) and (price <= position.sl if buy else price >= position.sl)
            hit_tp = bool(position.tp) and (price >= position.tp if buy else price <= position.tp)
            if (hit_sl or hit_tp) and market_open(spec.session, at):
                positions.append((position, position.sl if hit_sl else position.tp, hit_sl))
        return orders, positions

    # --- money -------------------------------------------------------------------

    def _volume_valid(self, info: SymbolInfo, volume: float) -> bool:
        if not (isinstance(volume, int | float) and math.isfinite(volume)):
            return False
        if volume < info.volume_min - 1e-9 or volume > info.volume_max + 1e-9:
            return False
        steps = (_dec(volume) / _dec(info.volume_step)).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN)
        return abs(steps * _dec(info.volume_step) - _dec(volume)) < Decimal("1e-9")

    def _stops_valid(self, info: SymbolInfo, side: int, price: float, sl: float, tp: float) -> bool:
        distance = info.trade_stops_level * info.point
        buy = side == OrderType.BUY
        if sl and not (sl <= price - distance if buy else sl >= price + distance):
            return False
        return not (tp and not (tp >= price + distance if buy else tp <= price - distance))

    def _margin(self, symbol: str, volume: float, price: float, leverage: int) -> float:
        info = self._spec(symbol).info
        notional = price / info.trade_tick_size * info.trade_tick_value * volume
        return notional / leverage

    def _affordable(
        self, account: SimAccount, positions: list[SimPosition], symbol: str, volume: float, price: float
    ) -> bool:
        used = sum(self._margin(p.symbol, float(p.volume), p.price_open, account.leverage) for p in positions)
        equity = float(account.balance) + sum(self._profit(p) for p in positions)
        return equity - used >= self._margin(symbol, volume, price, account.leverage)

    def _profit(self, position: SimPosition, *, price: float | None = None, volume: float | None = None) -> float:
        spec = self._spec(position.symbol)
        if price is None:
            bid, ask = quote(spec, self.clock())
            price = bid if position.type == OrderType.BUY else ask
        diff = price - position.price_open if position.type == OrderType.BUY else position.price_open - price
        lots = float(position.volume) if volume is None else volume
        return diff / spec.info.trade_tick_size * spec.info.trade_tick_value * lots

    def _position(self, row: SimPosition) -> Position:
        spec = self._spec(row.symbol)
        bid, ask = quote(spec, self.clock())
        return Position(
            ticket=row.pk,
            symbol=row.symbol,
            type=row.type,
            volume=float(row.volume),
            price_open=row.price_open,
            price_current=bid if row.type == OrderType.BUY else ask,
            sl=row.sl,
            tp=row.tp,
            profit=round(self._profit(row), 2),
            magic=row.magic,
            comment=row.comment,
            time_msc=row.time_msc,
            identifier=row.pk,
        )


def _position_of(positions: list[SimPosition], request: OrderRequest) -> SimPosition | None:
    return next((p for p in positions if p.pk == request.position and p.symbol == request.symbol), None)
