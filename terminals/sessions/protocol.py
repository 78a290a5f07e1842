"""What a session and its callers agree on: the spec a session runs, the replies it sends, MT5's
own IPC codes for a pipe that fails, and the connection both ends use.

The password stays ciphertext until the session decrypts it to connect. The spec and a random
32-byte authkey reach the child through multiprocessing's spawn pipe, never its command line,
environment or a file; the spec's repr leaves the password out, and only callers holding the
authkey can connect (multiprocessing's HMAC handshake).
"""

import contextlib
import socket
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection
from typing import Any

from terminals.drivers.base import TerminalError

# MT5's own last_error() codes for the ways a pipe fails.
IPC_SEND, IPC_RECEIVE, IPC_INIT, NO_IPC, IPC_TIMEOUT = -10001, -10002, -10003, -10004, -10005
INVALID_PARAMS = -2
START_TIMEOUT_S = 60.0  # MT5's own initialize() timeout, plus Django's start
CALL_TIMEOUT_S = 90.0

Reply = tuple  # ("ok", value) | ("terminal_error", code, message) | ("error", text)


class SessionError(Exception):
    """The session could not run a call for a reason other than the terminal (a bug, an
    unknown method); the text names the original exception."""


@dataclass(frozen=True)
class SessionSpec:
    driver: str  # dotted path of a Driver class
    login: int
    server: str
    password: str = field(repr=False)  # Fernet ciphertext, as TradingAccount.password stores it
    options: dict[str, Any] = field(default_factory=dict)  # the driver's keyword arguments
    sys_path: tuple[str, ...] = ()  # import paths put first in the session (tests: the fake MetaTrader5)


def failure_reply(error: BaseException) -> Reply:
    """An exception as a reply: a TerminalError as data (its constructor does not survive pickling)."""
    if isinstance(error, TerminalError):
        return ("terminal_error", error.code, error.message)
    return ("error", f"{type(error).__name__}: {error}")


def reply_value(reply: Reply) -> Any:
    """The value of an "ok" reply; raises the TerminalError or SessionError of any other."""
    status, *rest = reply
    if status == "ok":
        return rest[0]
    if status == "terminal_error":
        raise TerminalError(*rest)
    raise SessionError(rest[0])


def connect_without_delay(address: tuple[str, int], authkey: bytes) -> Connection:
    """A connection past the HMAC handshake, sending without delay. The handshake ends with a
    message from this side; a request sent right after it would wait behind it for the
    peer's delayed acknowledgement (Nagle's algorithm: 40 ms on Linux), on every connect."""
    connection = Client(address, authkey=authkey)
    with contextlib.suppress(OSError, ValueError):
        wrapped = socket.socket(fileno=connection.fileno())
        try:
            wrapped.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        finally:
            wrapped.detach()  # the connection keeps its socket
    return connection
