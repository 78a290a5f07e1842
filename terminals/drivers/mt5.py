"""Driver for a terminal reached through MetaQuotes' ``MetaTrader5`` Python module (Windows).

The module is a process-wide singleton attached to one terminal at a time, so one process
drives one terminal (terminals.sessions keeps such a process per account). connect() keeps
an existing attachment to the same terminal, login and password: initialize() starts or
attaches to terminal64.exe and login() re-authorizes, each can take seconds, and an order
must not wait for them (docs/execution.md).

The module reports failures as None (or False) plus last_error(); every such answer becomes
a TerminalError with MT5's code and words, never a silent None or an empty list. Passwords
go to the module only, never into an error message.
"""

import hashlib
import hmac
import importlib
import ntpath
import secrets
from datetime import datetime
from types import ModuleType

from .base import (
    AccountInfo,
    Deal,
    Driver,
    OrderRequest,
    OrderResult,
    PendingOrder,
    Position,
    SymbolInfo,
    TerminalError,
    Tick,
)

DEFAULT_TIMEOUT_MS = 60_000
COMMENT_MAX = 31  # MT5 keeps 31 characters; the module refuses a longer comment outright
# Codes with which symbol_info()/symbol_info_tick() answer for a symbol the terminal does not
# know (None is then "no such symbol"); any other code is the terminal failing.
_UNKNOWN_SYMBOL = frozenset({1, -1, -4})  # RES_S_OK, RES_E_FAIL, RES_E_NOT_FOUND

# The module's attachment is per process, so is the memory of which credentials logged it
# in: a keyed digest whose key never leaves this process, never the password itself.
_PROCESS_KEY = secrets.token_bytes(32)
_logged_in_with: bytes | None = None


def _credentials_digest(path: str | None, login: int, server: str, password: str) -> bytes:
    return hmac.new(_PROCESS_KEY, f"{path}\0{login}\0{server}\0{password}".encode(), hashlib.sha256).digest()


class MetaTrader5Driver(Driver):
    def __init__(self, *, path: str | None = None, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """path: the instance's terminal64.exe (portable mode); None lets the module find one."""
        # Imported here, not at module level: the wheel exists only on Windows, and tests put
        # a fake of it on sys.path.
        self.mt5: ModuleType = importlib.import_module("MetaTrader5")
        self.path = path
        self.timeout_ms = timeout_ms

    # --- session ---------------------------------------------------------------------

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        """Attach and log in; keeps the attachment when this process already logged this
        terminal in with the same credentials, so orders never wait for a re-login. Other
        credentials (another login, or a password to verify) go through login()."""
        global _logged_in_with
        login = int(login)
        if not self._on_our_terminal():
            self.mt5.shutdown()  # let go of another terminal before attaching to ours
            if self.path:
                attached = self.mt5.initialize(self.path, portable=True, timeout=self.timeout_ms)
            else:
                attached = self.mt5.initialize(timeout=self.timeout_ms)
            self._check(attached, "initialize")
        current = self.mt5.account_info()
        digest = _credentials_digest(self.path, login, server, password)
        if current is None or (current.login, current.server) != (login, server) or digest != _logged_in_with:
            # Separate from initialize(): a wrong password leaves the started terminal running.
            _logged_in_with = None
            self._check(
                self.mt5.login(login, password=password, server=server, timeout=self.timeout_ms), f"login {login}"
            )
            _logged_in_with = digest
        return self.account_info()

    def _on_our_terminal(self) -> bool:
        info = self.mt5.terminal_info()
        if info is None:
            return False
        return self.path is None or ntpath.normcase(ntpath.dirname(self.path)) == ntpath.normcase(info.path)

    def shutdown(self) -> None:
        self.mt5.shutdown()

    def _check(self, answer: object, what: str) -> None:
        if answer is None or answer is False:
            code, message = self.mt5.last_error()
            raise TerminalError(code, f"{what}: {message}")

    # --- reads -----------------------------------------------------------------------

    def account_info(self) -> AccountInfo:
        info = self.mt5.account_info()
        self._check(info, "account_info")
        return AccountInfo(
            login=info.login,
            server=info.server,
            name=info.name,
            currency=info.currency,
            leverage=info.leverage,
            balance=info.balance,
            equity=info.equity,
            margin=info.margin,
            margin_free=info.margin_free,
            profit=info.profit,
            margin_mode=info.margin_mode,
            # The broker allows trading and allows it to experts (the Python API counts as one).
            trade_allowed=bool(info.trade_allowed and info.trade_expert),
        )

    def symbols(self) -> list[str]:
        found = self.mt5.symbols_get()
        self._check(found, "symbols_get")
        return [info.name for info in found]

    def _unknown_symbol(self, answer: object, what: str) -> bool:
        """True when a None answer means the symbol does not exist; raises when the terminal failed."""
        if answer is not None:
            return False
        code, message = self.mt5.last_error()
        if code in _UNKNOWN_SYMBOL:
            return True
        raise TerminalError(code, f"{what}: {message}")

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        info = self.mt5.symbol_info(symbol)
        if self._unknown_symbol(info, f"symbol_info {symbol}"):
            return None
        return SymbolInfo(
            name=info.name,
            description=info.description,
            digits=info.digits,
            point=info.point,
            trade_tick_size=info.trade_tick_size,
            trade_tick_value=info.trade_tick_value,
            trade_contract_size=info.trade_contract_size,
            volume_min=info.volume_min,
            volume_step=info.volume_step,
            volume_max=info.volume_max,
            filling_mode=info.filling_mode,
            trade_stops_level=info.trade_stops_level,
            trade_mode=info.trade_mode,
            currency_profit=info.currency_profit,
        )

    def tick(self, symbol: str) -> Tick | None:
        tick = self.mt5.symbol_info_tick(symbol)
        if self._unknown_symbol(tick, f"symbol_info_tick {symbol}"):
            return None
        return Tick(symbol=symbol, bid=tick.bid, ask=tick.ask, time_msc=tick.time_msc)

    def positions(self, *, symbol: str | None = None, ticket: int | None = None) -> list[Position]:
        # The module takes one filter per call; the ticket is the narrower one.
        if ticket:
            found = self.mt5.positions_get(ticket=int(ticket))
        elif symbol:
            found = self.mt5.positions_get(symbol=symbol)
        else:
            found = self.mt5.positions_get()
        self._check(found, "positions_get")
        return [
            Position(
                ticket=p.ticket,
                symbol=p.symbol,
                type=p.type,
                volume=p.volume,
                price_open=p.price_open,
                price_current=p.price_current,
                sl=p.sl,
                tp=p.tp,
                profit=p.profit,
                magic=p.magic,
                comment=p.comment,
                time_msc=p.time_msc,
                identifier=p.identifier,
            )
            for p in found
            if not symbol or p.symbol == symbol
        ]

    def orders(self, *, symbol: str | None = None) -> list[PendingOrder]:
        found = self.mt5.orders_get(symbol=symbol) if symbol else self.mt5.orders_get()
        self._check(found, "orders_get")
        return [
            PendingOrder(
                ticket=o.ticket,
                symbol=o.symbol,
                type=o.type,
                volume_initial=o.volume_initial,
                volume_current=o.volume_current,
                price_open=o.price_open,
                sl=o.sl,
                tp=o.tp,
                magic=o.magic,
                comment=o.comment,
                time_setup_msc=o.time_setup_msc,
            )
            for o in found
        ]

    def deals(self, *, since: datetime, until: datetime) -> list[Deal]:
        """Every deal, balance and other money movements included: the caller keeps the types it wants."""
        found = self.mt5.history_deals_get(since, until)
        self._check(found, "history_deals_get")
        return [
            Deal(
                ticket=d.ticket,
                order=d.order,
                position_id=d.position_id,
                symbol=d.symbol,
                type=d.type,
                entry=d.entry,
                volume=d.volume,
                price=d.price,
                profit=d.profit,
                magic=d.magic,
                comment=d.comment,
                time_msc=d.time_msc,
                reason=d.reason,
                commission=d.commission,
                swap=d.swap,
                fee=d.fee,
            )
            for d in found
        ]

    # --- trading ---------------------------------------------------------------------

    def _request(self, request: OrderRequest) -> dict:
        # Plain int and float: the module refuses an int volume or price, and IntEnums are
        # not worth finding out about.
        fields = {
            "action": int(request.action),
            "symbol": request.symbol,
            "volume": float(request.volume),
            "type": int(request.type),
            "price": float(request.price),
            "sl": float(request.sl),
            "tp": float(request.tp),
            "deviation": int(request.deviation),
            "type_filling": int(request.type_filling),
            "type_time": self.mt5.ORDER_TIME_GTC,
            "magic": int(request.magic),
            "comment": request.comment[:COMMENT_MAX],
        }
        if request.position:
            fields["position"] = int(request.position)
        if request.order:
            fields["order"] = int(request.order)
        return fields

    def order_check(self, request: OrderRequest) -> OrderResult:
        result = self.mt5.order_check(self._request(request))
        self._check(result, "order_check")
        return OrderResult(retcode=result.retcode, volume=request.volume, comment=result.comment)

    def order_send(self, request: OrderRequest) -> OrderResult:
        """A None from the module (IPC failure, timeout) raises: the order may or may not
        have reached the server, so the caller reconciles before sending again."""
        result = self.mt5.order_send(self._request(request))
        self._check(result, "order_send")
        return OrderResult(
            retcode=result.retcode,
            deal=result.deal,
            order=result.order,
            volume=result.volume,
            price=result.price,
            bid=result.bid,
            ask=result.ask,
            comment=result.comment,
            request_id=result.request_id,
        )
