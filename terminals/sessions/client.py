"""The caller's end of a session, shaped like a Driver. A TerminalError raised in the session is
raised again here; a lost connection becomes a TerminalError with MT5's own IPC codes, so order
code treats a dead session like a dead terminal (after a send: ambiguous, reconcile before
resending). shutdown() closes only this client's connection: callers written for drivers ("open,
use, shutdown") leave the terminal attached for the next one."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from terminals.drivers.base import TerminalError

from .protocol import (
    CALL_TIMEOUT_S,
    INVALID_PARAMS,
    IPC_RECEIVE,
    IPC_SEND,
    IPC_TIMEOUT,
    NO_IPC,
    connect_without_delay,
    reply_value,
)

if TYPE_CHECKING:
    from datetime import datetime

    from terminals.drivers.base import (
        AccountInfo,
        Deal,
        OrderRequest,
        OrderResult,
        PendingOrder,
        Position,
        SymbolInfo,
        Tick,
    )


class SessionClient:
    """A Driver-shaped handle on one session. Like a driver, one caller at a time."""

    def __init__(
        self, address: tuple[str, int], authkey: bytes, *, login: int, server: str, timeout: float = CALL_TIMEOUT_S
    ) -> None:
        self.address, self.login, self.server, self.timeout = address, login, server, timeout
        self._authkey = authkey
        self._connection: Connection | None = None

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run driver.<method>(*args, **kwargs) in the session and return its result."""
        where = f"session {self.address[0]}:{self.address[1]}"
        if self._connection is None:
            try:
                self._connection = connect_without_delay(self.address, self._authkey)
            except (OSError, EOFError, multiprocessing.AuthenticationError) as error:
                raise TerminalError(NO_IPC, f"{where} is not reachable: {error}") from None
        try:
            self._connection.send((method, args, kwargs))
        except OSError as error:
            self._close()
            raise TerminalError(IPC_SEND, f"{where}: sending {method} failed: {error}") from None
        try:
            if not self._connection.poll(self.timeout):
                raise TerminalError(IPC_TIMEOUT, f"{where} did not answer {method} within {self.timeout:g} s")
            reply = self._connection.recv()
        except (OSError, EOFError):
            self._close()
            raise TerminalError(IPC_RECEIVE, f"{where} closed the connection during {method}") from None
        except TerminalError:
            self._close()  # a late answer must not be read as the answer to the next call
            raise
        return reply_value(reply)

    def fresh(self) -> SessionClient:
        """Another client of the same session, with its own connection (for another thread)."""
        return SessionClient(self.address, self._authkey, login=self.login, server=self.server, timeout=self.timeout)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        """The session is bound to its account and connected since it started: the password
        is not sent again; another account is refused."""
        if (int(login), server) != (self.login, self.server):
            raise TerminalError(INVALID_PARAMS, f"this session is for login {self.login} on {self.server}")
        return self.account_info()

    def shutdown(self) -> None:
        """Close this client's connection; the session stays attached (Session.stop() ends it)."""
        self._close()

    def account_info(self) -> AccountInfo:
        return self.call("account_info")

    def symbols(self) -> list[str]:
        return self.call("symbols")

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        return self.call("symbol_info", symbol)

    def tick(self, symbol: str) -> Tick | None:
        return self.call("tick", symbol)

    def positions(self, *, symbol: str | None = None, ticket: int | None = None) -> list[Position]:
        return self.call("positions", symbol=symbol, ticket=ticket)

    def orders(self, *, symbol: str | None = None) -> list[PendingOrder]:
        return self.call("orders", symbol=symbol)

    def deals(self, *, since: datetime, until: datetime) -> list[Deal]:
        return self.call("deals", since=since, until=until)

    def order_check(self, request: OrderRequest) -> OrderResult:
        return self.call("order_check", request)

    def order_send(self, request: OrderRequest) -> OrderResult:
        return self.call("order_send", request)

    @classmethod
    def order_send_many(cls, sends: list[tuple[SessionClient, OrderRequest]]) -> list[OrderResult]:
        """order_send of several sessions, one by one, as Driver.order_send_many does."""
        return [client.order_send(request) for client, request in sends]
