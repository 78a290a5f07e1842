"""Terminal sessions: one long-lived process per attached terminal, called over loopback.

Why
    The MetaTrader5 module attaches a whole process to one terminal, and attaching
    (initialize) can take seconds. A qcluster worker that drove several accounts itself
    would re-attach between orders (docs/execution.md). So every account gets a session process
    that attaches once and stays attached; workers hand it driver calls.

Pieces
    SessionSpec      what a session runs: a Driver class by dotted path and its keyword
                     arguments (the instance's terminal64.exe), login, server, the password
                     as stored (Fernet ciphertext), extra import paths.
    start_session()  spawns the process (multiprocessing "spawn": a fresh interpreter, as
                     on Windows). It sets Django up, builds and connects the driver, listens
                     on 127.0.0.1 on a free port and reports the address; a refused login
                     raises TerminalError in the starter.
    SessionClient    the caller's end, shaped like a Driver; call(name, ...) reaches any
                     driver method. A TerminalError raised in the session is raised again
                     in the caller; a lost connection becomes a TerminalError with MT5's own
                     IPC codes, so order code treats a dead session like a dead terminal
                     (after a send: ambiguous, reconcile before resending).
    SessionRegistry  this process's sessions by account id: started on first use (one start
                     per account at a time), reused, started again when the process died,
                     stopped one by one or all.
    SessionDirectory the host agent's registry served on loopback; directory_session() is
                     the asking end, used by open_driver outside the agent.

One call at a time
    Reader threads only receive; the main thread executes calls from one queue in arrival
    order, however many clients are connected, so calls for one account never overlap.

Secrets
    The password stays ciphertext until the session decrypts it to connect. The spec and
    a random 32-byte authkey reach the child through multiprocessing's spawn pipe, never
    its command line, environment or a file; the spec's repr leaves the password out, and
    only callers holding the authkey can connect (multiprocessing's HMAC handshake). The
    directory hands a session's authkey only to callers that passed its own handshake.

Lifetime
    The starter holds one end of a control pipe. When it closes (Session.stop(), or the
    starter dies, even by SIGKILL) the session finishes the call in hand, shuts the driver
    down and exits. SessionClient.shutdown() only closes that client's connection: callers
    written for drivers ("open, use, shutdown") leave the terminal attached for the next one.

Who owns sessions
    The host agent (`manage.py host_agent`, one per host) owns its host's sessions: its
    SessionRegistry starts them, stops those of accounts stopped, deleted or moved away,
    and stops them all when it exits. Every other process on the host (qcluster workers)
    asks the agent's SessionDirectory for an account's session: one Python process stays
    attached to one terminal, however many workers trade on it, and it outlives them.
    The directory listens on 127.0.0.1 and publishes its address in var/ (directory_path);
    its authkey is derived from SECRET_KEY (directory_authkey), so only processes with the
    project's settings can ask, and it answers with a SessionClient (address and the
    session's authkey). No agent, no session: a worker gets NO_IPC, never a session of its
    own. When the agent dies its sessions end with it (see Lifetime) and the next agent
    starts them again; a worker's client meanwhile gets MT5's IPC codes.

Nothing from the project's Django apps is imported at module level: a spawned child
imports this module before it has set Django up.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import ntpath
import os
import queue
import secrets
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from terminals.drivers.base import (
        AccountInfo,
        Deal,
        Driver,
        OrderRequest,
        OrderResult,
        PendingOrder,
        Position,
        SymbolInfo,
        Tick,
    )

# MT5's own last_error() codes for the ways a pipe fails.
IPC_SEND, IPC_RECEIVE, IPC_INIT, NO_IPC, IPC_TIMEOUT = -10001, -10002, -10003, -10004, -10005
INVALID_PARAMS = -2
# TradingAccount.Kind values that run in a session; the EA bridge needs no Python attachment.
DRIVERS = {
    "mt5": "terminals.drivers.mt5.MetaTrader5Driver",
    "simulated": "terminals.paper.driver.SimulatedDriver",
}
START_TIMEOUT_S = 60.0  # MT5's own initialize() timeout, plus Django's start
CALL_TIMEOUT_S = 90.0
IDLE_S = 60.0
# A directory request may wait for a start in hand: one start, plus a margin.
DIRECTORY_TIMEOUT_S = START_TIMEOUT_S + 15.0
DIRECTORY_PURPOSE = "mt5saas.terminals.sessions.directory"

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


def account_session_spec(account_id: int) -> SessionSpec:
    """How to run an account's session; an MT5 account uses its portable instance,
    <instance_root>\\<login>\\terminal64.exe, when its host has an instance root."""
    from terminals.models import TradingAccount

    account = TradingAccount.objects.select_related("host").get(pk=account_id)
    if account.kind not in DRIVERS:
        raise ValueError(f"{account.get_kind_display()} accounts do not run in a terminal session")
    options = {}
    if account.kind == TradingAccount.Kind.MT5 and account.host and account.host.instance_root:
        options["path"] = ntpath.join(account.host.instance_root, account.login, "terminal64.exe")
    return SessionSpec(
        driver=DRIVERS[account.kind],
        login=int(account.login),
        server=account.server,
        password=account.password,
        options=options,
    )


# --- the session process -------------------------------------------------------------------


def _failure(error: BaseException) -> Reply:
    from terminals.drivers.base import TerminalError

    if isinstance(error, TerminalError):
        # As data: TerminalError's constructor does not survive pickling.
        return ("terminal_error", error.code, error.message)
    return ("error", f"{type(error).__name__}: {error}")


def serve(spec: SessionSpec, authkey: bytes, control: Connection) -> None:
    """The session process's main: attach, then answer calls until the control pipe closes."""
    # Ctrl+C in the agent's console reaches its whole process group: the agent stops its
    # sessions itself, each after the call in hand, not in the middle of an order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path[:0] = spec.sys_path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mt5saas.settings")
    import django

    django.setup()
    from django.utils.module_loading import import_string

    from mt5saas.crypto import decrypt

    try:
        driver = import_string(spec.driver)(**spec.options)
        driver.connect(login=spec.login, password=decrypt(spec.password), server=spec.server)
    except Exception as error:  # noqa: BLE001 — the starter raises it; this process just ends
        control.send(_failure(error))
        return
    calls: queue.SimpleQueue = queue.SimpleQueue()
    with Listener(("127.0.0.1", 0), authkey=authkey) as listener:
        control.send(("ok", listener.address))
        threading.Thread(target=_accept, args=(listener, calls), daemon=True).start()
        threading.Thread(target=_watch, args=(control, calls), daemon=True).start()
        _execute(driver, calls)
    driver.shutdown()


def _watch(control: Connection, calls: queue.SimpleQueue) -> None:
    # The starter never writes here: end of file means stop, or that it died.
    with contextlib.suppress(EOFError, OSError):
        control.recv()
    calls.put(None)


def _accept(listener: Listener, calls: queue.SimpleQueue) -> None:
    while True:
        try:
            connection = listener.accept()
        except (multiprocessing.AuthenticationError, EOFError, ConnectionError):
            continue  # a caller without the key, or one that hung up mid-handshake
        threading.Thread(target=_receive, args=(connection, calls), daemon=True).start()


def _receive(connection: Connection, calls: queue.SimpleQueue) -> None:
    with connection, contextlib.suppress(EOFError, OSError):
        while True:
            calls.put((connection, connection.recv()))


def _execute(driver: Driver, calls: queue.SimpleQueue) -> None:
    from django.db import close_old_connections

    from terminals.drivers.base import Driver

    # shutdown() is the session's to make (on stop), connect() happened at start.
    allowed = Driver.__abstractmethods__ - {"shutdown", "connect"}
    while True:
        try:
            item = calls.get(timeout=IDLE_S)
        except queue.Empty:
            # A session lives for days: when idle, let go of a database connection past its
            # age. Not per call: with CONN_MAX_AGE=0 that reconnects for every order.
            close_old_connections()
            continue
        if item is None:
            return
        connection, request = item
        try:
            method, args, kwargs = request
            if method not in allowed:
                raise SessionError(f"{method!r} is not a call a session runs")
            reply: Reply = ("ok", getattr(driver, method)(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 — the caller gets it; the session serves on
            reply = _failure(error)
            close_old_connections()  # the error may have left the database connection unusable
        # A caller that hung up meanwhile learns nothing: it already saw an IPC error.
        with contextlib.suppress(OSError):
            connection.send(reply)


# --- the caller's end -----------------------------------------------------------------------


def _connect(address: tuple[str, int], authkey: bytes) -> Connection:
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


def _unpack(reply: Reply) -> Any:
    from terminals.drivers.base import TerminalError

    status, *rest = reply
    if status == "ok":
        return rest[0]
    if status == "terminal_error":
        raise TerminalError(*rest)
    raise SessionError(rest[0])


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
        from terminals.drivers.base import TerminalError

        where = f"session {self.address[0]}:{self.address[1]}"
        if self._connection is None:
            try:
                self._connection = _connect(self.address, self._authkey)
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
        return _unpack(reply)

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
        from terminals.drivers.base import TerminalError

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


# --- starting, keeping and stopping sessions ---------------------------------------------------


@dataclass
class Session:
    process: BaseProcess
    client: SessionClient
    control: Connection  # the starter's end of the control pipe; closing it ends the session

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Let the call in hand finish, shut the driver down, end the process."""
        self.client.shutdown()
        _end(self.process, self.control, timeout)


def _end(process: BaseProcess, control: Connection, grace: float) -> None:
    control.close()
    process.join(grace)
    if process.is_alive():
        process.terminate()
        process.join()


def start_session(spec: SessionSpec, *, timeout: float = START_TIMEOUT_S) -> Session:
    """A session attached to spec's account. Raises TerminalError when it cannot attach
    (wrong password, a terminal that does not start) or does not report within timeout."""
    if multiprocessing.current_process().daemon:
        raise RuntimeError("a daemonic process cannot start sessions (the host agent starts them)")
    context = multiprocessing.get_context("spawn")
    control, child_end = context.Pipe()
    authkey = secrets.token_bytes(32)
    process = context.Process(
        target=serve, args=(spec, authkey, child_end), name=f"terminal-session-{spec.login}", daemon=True
    )
    process.start()
    child_end.close()  # now the child's exit reads as end of file here
    reply = _first_reply(process, control, spec, timeout)
    if reply[0] != "ok":
        _end(process, control, grace=5.0)
        _unpack(reply)
    client = SessionClient(reply[1], authkey, login=spec.login, server=spec.server)
    return Session(process, client, control)


def _first_reply(process: BaseProcess, control: Connection, spec: SessionSpec, timeout: float) -> Reply:
    if not control.poll(timeout):
        return ("terminal_error", IPC_TIMEOUT, f"the session for {spec.login} did not start within {timeout:g} s")
    try:
        return control.recv()
    except EOFError:
        process.join()
        return (
            "terminal_error",
            IPC_INIT,
            f"the session for {spec.login} exited ({process.exitcode}) before attaching",
        )


class SessionRegistry:
    """This process's sessions, one per account id. Thread-safe: the host agent's main loop
    and its directory's request threads share one registry."""

    def __init__(
        self, spec_for: Callable[[int], SessionSpec] = account_session_spec, *, start_timeout: float = START_TIMEOUT_S
    ) -> None:
        self.spec_for = spec_for
        self.start_timeout = start_timeout
        self._sessions: dict[int, Session] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, account_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def session(self, account_id: int) -> Session:
        """The account's session: the running one, or a new one (also when the last one died).
        Raises what spec_for or start_session raises."""
        # Per account: two requests never start two sessions, and a start that takes
        # seconds holds up only its own account.
        with self._lock(account_id):
            session = self._sessions.get(account_id)
            if session is not None and session.alive():
                return session
            self._stop(account_id)  # reap a dead one
            session = start_session(self.spec_for(account_id), timeout=self.start_timeout)
            self._sessions[account_id] = session
            return session

    def account_ids(self) -> set[int]:
        with self._guard:
            return set(self._sessions)

    def stop(self, account_id: int) -> None:
        with self._lock(account_id):
            self._stop(account_id)

    def _stop(self, account_id: int) -> None:
        if (session := self._sessions.pop(account_id, None)) is not None:
            session.stop()

    def keep_only(self, account_ids: Iterable[int]) -> None:
        """Stop every session whose account is not in account_ids."""
        for account_id in self.account_ids() - set(account_ids):
            self.stop(account_id)

    def stop_all(self) -> None:
        for account_id in self.account_ids():
            self.stop(account_id)


# --- the host's session directory ------------------------------------------------------------


def directory_authkey(queue: str) -> bytes:
    """The directory's authkey for a host queue: derived from SECRET_KEY, so it is stored
    nowhere and only processes with the project's settings hold it."""
    from django.utils.crypto import salted_hmac

    return salted_hmac(DIRECTORY_PURPOSE, queue, algorithm="sha256").digest()


def directory_path(queue: str) -> Path:
    """Where the host agent of `queue` publishes its directory's address (queue names are slugs)."""
    from django.conf import settings

    # A file, not a TerminalHost column: a loopback address means something on this machine
    # only, it changes with every agent start, and reading it costs a worker no database query.
    return Path(settings.VAR_DIR) / f"session-directory-{queue}.json"


def _write_atomically(path: Path, text: str) -> None:
    # A reader sees the old file or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class SessionDirectory:
    """The host agent's registry, served to the host's other processes on loopback.

    A request is an account id; the answer is ("ok", SessionClient) for that account's
    session, started if needed, or the failure start_session raised, as data. Each request
    runs in its own thread, so a slow start holds up only requests for its own account.
    Use as a context manager: open() publishes the address, close() withdraws it.
    """

    def __init__(self, registry: SessionRegistry, queue: str) -> None:
        self.registry, self.queue = registry, queue
        self.path = directory_path(queue)
        self._listener: Listener | None = None
        self._acceptor: threading.Thread | None = None
        self._closed = threading.Event()

    def open(self) -> None:
        self._listener = Listener(("127.0.0.1", 0), authkey=directory_authkey(self.queue))
        self._acceptor = threading.Thread(target=self._accept, args=(self._listener,), name="session-directory")
        self._acceptor.daemon = True
        self._acceptor.start()
        # The pid tells close() whether the file is still this agent's.
        _write_atomically(self.path, json.dumps({"address": list(self._listener.address), "pid": os.getpid()}))

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError, ValueError, KeyError):
            # A newer agent of the same queue may have published its own address meanwhile.
            if json.loads(self.path.read_text())["pid"] == os.getpid():
                self.path.unlink()
        if self._listener is not None:
            # Closing a socket does not wake a thread blocked in accept() on Linux, and the socket
            # keeps listening while it waits: a bare connection (no handshake, nothing waits on
            # it) makes accept() return, and the loop sees _closed and ends.
            with contextlib.suppress(OSError):
                socket.create_connection(self._listener.address, timeout=1).close()
            self._listener.close()
            self._acceptor.join(timeout=5)  # once it has returned, nothing listens on the port

    def __enter__(self) -> SessionDirectory:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self, listener: Listener) -> None:
        while not self._closed.is_set():
            try:
                connection = listener.accept()
            except (multiprocessing.AuthenticationError, EOFError, ConnectionError):
                continue  # a caller without the key, or one that hung up mid-handshake
            except OSError:
                return  # closed
            if self._closed.is_set():
                connection.close()  # close()'s wake-up call, or a caller too late
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: Connection) -> None:
        from django.db import connection as database

        with connection, contextlib.suppress(EOFError, OSError):
            account_id = connection.recv()
            try:
                reply: Reply = ("ok", self.registry.session(int(account_id)).client.fresh())
            except Exception as error:  # noqa: BLE001 — the asker raises it; the directory serves on
                reply = _failure(error)
            finally:
                database.close()  # this thread's own connection: the thread ends here
            connection.send(reply)


def directory_session(queue: str, account_id: int, *, timeout: float = DIRECTORY_TIMEOUT_S) -> SessionClient:
    """The account's session, from the host agent of `queue`. Raises TerminalError: NO_IPC
    when no agent answers (nothing is started here), else the error the session's start
    raised, as start_session would have raised it."""
    from terminals.drivers.base import TerminalError

    not_running = f"the host agent is not running for queue {queue}: no terminal session can be reached"
    try:
        address = tuple(json.loads(directory_path(queue).read_text())["address"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TerminalError(NO_IPC, not_running) from None
    try:
        connection = _connect(address, directory_authkey(queue))
    except multiprocessing.AuthenticationError:
        raise TerminalError(
            NO_IPC, f"the host agent for queue {queue} refused this process: is SECRET_KEY the same?"
        ) from None
    except (OSError, EOFError):
        # A file left by an agent that died: nobody listens there any more.
        raise TerminalError(NO_IPC, not_running) from None
    with connection:
        try:
            connection.send(account_id)
            if not connection.poll(timeout):
                raise TerminalError(
                    IPC_TIMEOUT, f"the host agent gave no session for account {account_id} within {timeout:g} s"
                )
            reply = connection.recv()
        except (OSError, EOFError):
            raise TerminalError(IPC_RECEIVE, f"the host agent for queue {queue} hung up (did it stop?)") from None
    return _unpack(reply)
