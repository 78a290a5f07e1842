"""Starting, keeping and stopping sessions: this process's sessions by account id, started on first
use (one start per account at a time), reused, started again when the process died, stopped one by
one or all. The host agent owns its host's registry; a session ends with it (see process)."""

import multiprocessing
import ntpath
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from terminals.models import TradingAccount

from .client import SessionClient
from .process import serve
from .protocol import IPC_INIT, IPC_TIMEOUT, START_TIMEOUT_S, Reply, SessionSpec, reply_value

# TradingAccount.Kind values that run in a session; the EA bridge needs no Python attachment.
DRIVERS = {
    "mt5": "terminals.drivers.mt5.MetaTrader5Driver",
    "simulated": "terminals.paper.driver.SimulatedDriver",
}


def account_session_spec(account_id: int) -> SessionSpec:
    """How to run an account's session; an MT5 account uses its portable instance,
    <instance_root>\\<login>\\terminal64.exe, when its host has an instance root."""
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
        reply_value(reply)
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
