"""The paper broker's terminal: a Driver that answers like MT5 from the paper accounts in the
database. It opens a paper account the first time a login is used and checks the password on every
later connect; several terminals' sends can go in one transaction (order_send_many)."""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from django.db import transaction

from terminals.drivers.base import (
    AccountInfo,
    Deal,
    Driver,
    MarginMode,
    OrderRequest,
    OrderResult,
    OrderType,
    PendingOrder,
    Position,
    SymbolInfo,
    TerminalError,
    Tick,
)

from . import market as paper_market
from .book import Book, Writes, books, books_locked, deals_together, readings_together
from .market import SERVERS, Market, quote
from .models import SimAccount, SimDeal, SimPosition
from .stopout import stop_out_due
from .trade import due, fill_due, trade_together
from .validation import AUTH_FAILED, validate

NOT_CONNECTED = -10004


def _password_hash(password: str, salt: str | None = None) -> str:
    # A paper account's password, checked on every connect: salted SHA-256 keeps that in
    # microseconds (a PBKDF2 check would cost every simulated read a third of a second).
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256(f'{salt}:{password}'.encode()).hexdigest()}"


def _password_ok(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$", 2) if stored.count("$") >= 2 else ("", "", "")
    return bool(salt) and hmac.compare_digest(_password_hash(password, salt), stored)


class SimulatedDriver(Driver):
    """A paper terminal. `clock` (epoch milliseconds) sets its market hours and quotes; without
    one it reads the paper broker's clock (terminals.paper.market.clock)."""

    def __init__(self, *, clock: Callable[[], int] | None = None) -> None:
        self.clock = clock if clock is not None else paper_market.clock
        self.account_id: int | None = None
        self.server: str | None = None
        self._reading: Book | None = None  # from read_together, for the first account_info()
        self._traded = False  # this driver changed its account: its deals are read afresh

    # --- session ---------------------------------------------------------------

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        return self.account_info(self.log_in(login=login, password=password, server=server))

    def log_in(self, *, login: int, password: str, server: str) -> SimAccount:
        """connect() without reading the account's figures (what the order pipeline needs)."""
        if server not in SERVERS:
            raise TerminalError(AUTH_FAILED, f"Authorization failed: unknown trade server {server[:100]!r}")
        together = readings_together()
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
            raise TerminalError(NOT_CONNECTED, "Not connected to a terminal")

    def _account(self) -> SimAccount:
        self._connected()
        return SimAccount.objects.get(pk=self.account_id)

    def _market(self) -> Market:
        return Market(self.server, self.clock)

    # --- reads -----------------------------------------------------------------

    def account_info(self, account: SimAccount | None = None) -> AccountInfo:
        reading, self._reading = self._reading, None
        book = self._settle(account, reading)
        account, positions, market = book.account, book.positions, self._market()
        profit = sum(market.profit(p) for p in positions)
        margin = market.margin_used(positions, account.leverage)
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
        spec = self._market().spec(symbol)
        return spec.info if spec else None

    def tick(self, symbol: str) -> Tick | None:
        self._connected()
        spec = self._market().spec(symbol)
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
        self._connected()
        window = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        # In a host round the account was settled by this driver's account_info() a moment ago.
        rows = None if self._traded else deals_together(self.account_id, *window)
        if rows is None:
            account = self._settle().account
            rows = account.deals.filter(time_msc__gte=window[0], time_msc__lte=window[1]).order_by("pk")
        return [deal_of(row) for row in rows]

    def _position(self, row: SimPosition) -> Position:
        market = self._market()
        bid, ask = quote(market.spec(row.symbol), self.clock())
        return Position(
            ticket=row.pk,
            symbol=row.symbol,
            type=row.type,
            volume=float(row.volume),
            price_open=row.price_open,
            price_current=bid if row.type == OrderType.BUY else ask,
            sl=row.sl,
            tp=row.tp,
            profit=round(market.profit(row), 2),
            magic=row.magic,
            comment=row.comment,
            time_msc=row.time_msc,
            identifier=row.pk,
        )

    def _settle(self, account: SimAccount | None = None, reading: Book | None = None) -> Book:
        """What the market did since the last look: pending orders that triggered and
        positions whose stop loss or take profit was reached. Returns the account as it is
        afterwards. `account`: its row, just read; `reading`: the account read together with
        others."""
        at, market = self.clock(), self._market()
        # Look first without the write lock: most calls find nothing to do, and readers
        # must not queue behind each other for SQLite's one writer.
        if reading is None:
            account = account or self._account()
            reading = books([account])[account.pk]
        if not any(due(reading, at, market)) and stop_out_due(reading, market) is None:
            return reading
        self._traded = True
        with transaction.atomic():
            book = books_locked([self.account_id])[self.account_id]
            writes = Writes()
            fill_due(book, at, writes, market)
            writes.flush()
            return book

    # --- trading ---------------------------------------------------------------

    def order_check(self, request: OrderRequest) -> OrderResult:
        code, bid, ask = validate(self._settle(), request, self._market())
        return OrderResult(retcode=code or 0, bid=bid, ask=ask, volume=request.volume)

    def order_send(self, request: OrderRequest) -> OrderResult:
        [result] = self.order_send_many([(self, request)])
        return result

    @classmethod
    def order_send_many(cls, sends: list[tuple["SimulatedDriver", OrderRequest]]) -> list[OrderResult]:
        """order_send of several paper terminals, one request each, at the same moment: one
        transaction that locks their accounts (in key order: two such calls cannot deadlock)
        and reads and writes them in a few statements whatever their number, where one by one
        would take eight each. A fan-out's round sends this way."""
        for driver, _ in sends:
            driver._connected()
            driver._reading = None  # what was read together is out of date once this driver trades
            driver._traded = True
        if len({driver.account_id for driver, _ in sends}) < len(sends):
            raise ValueError("one request per account")
        with transaction.atomic():
            locked = books_locked([driver.account_id for driver, _ in sends])
            return trade_together([(locked[driver.account_id], request, driver._market()) for driver, request in sends])


def deal_of(row: SimDeal) -> Deal:
    """A stored deal as MT5's history_deals_get reports it."""
    return Deal(
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
        reason=row.reason,
        commission=float(row.commission),
        swap=float(row.swap),
        fee=float(row.fee),
    )
