"""Driver for terminals run by our All-in-One EA: JSON files in the instance's MQL5/Files
(protocol: docs/ea-protocol.md, file formats: terminals.drivers.ea_protocol).

The host writes a command file atomically; the EA claims it by deleting it, executes it, rewrites
status.json and then writes the result. The host withdraws a command it stopped waiting for by
deleting the file: exactly one of the two deletes succeeds, so a command runs at most once.
order_send raises TerminalError only when the command certainly did not reach the EA; once it is
visible to the EA every outcome is an OrderResult, and 10012 (no result in time) and -10002 (an
unreadable result) are ambiguous: the caller reconciles by the request's comment before resending.
"""

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from terminals import instances

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
from .ea_deals import DealsExchange
from .ea_journal import JOURNAL_DIR, Journal
from .ea_protocol import (
    COMMAND_PREFIXES,
    INVALID,
    INVALID_VERSION,
    PROTOCOL_VERSION,
    STATUS_FILE,
    CommandKind,
    EAStatus,
    ProtocolError,
    command_fields,
    parse_result,
    parse_status,
    write_json_atomically,
)

logger = logging.getLogger(__name__)

# How long a reader waits for an unparseable file to become whole before calling it broken.
PARTIAL_FILE_GRACE = 0.5
TIMEOUT = 10012
INVALID_PARAMS, AUTH_FAILED = -2, -6
SEND_FAILED, RECEIVE_FAILED, NO_IPC, LOGIN_TIMEOUT = -10001, -10002, -10004, -10005
# How often a login looks at status.json: a terminal takes seconds to log in.
LOGIN_POLL = 0.05


class EABridgeDriver(Driver):
    """A terminal that our EA runs, reached through files in its MQL5/Files directory.

    `timeout`: seconds to wait for a command's result. `stale_after`: seconds after
    which status.json means the EA is not running. `poll_interval`: seconds between
    looks for a result. `clock` gives the host's time in seconds (it stamps commands
    and judges the snapshot's age); `wait` is how the driver pauses between looks.
    `instance`: the portable terminal's directory (`<instance_root>/<login>`); with it,
    connect() logs the terminal in (see "Logging in"), waiting at most `login_timeout`
    seconds for it and `stop_timeout` for the running terminal to close first.
    """

    def __init__(
        self,
        files_dir: Path,
        *,
        instance: Path | None = None,
        timeout: float = 15.0,
        stale_after: float = 10.0,
        poll_interval: float = 0.01,
        login_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self.files_dir = Path(files_dir)
        self.instance = Path(instance) if instance is not None else None
        self.timeout, self.stale_after, self.poll_interval = timeout, stale_after, poll_interval
        self.login_timeout, self.stop_timeout = login_timeout, stop_timeout
        self.clock, self.wait = clock, wait
        self.login: int | None = None
        self.server: str | None = None
        # The last status.json read, checked or not: what the EA last said of itself.
        self.snapshot: EAStatus | None = None
        # Commands the EA took but did not answer in time: their late results are discarded.
        self._unanswered: set[str] = set()
        self._deals = DealsExchange(
            self.files_dir, timeout=timeout, poll_interval=poll_interval, clock=clock, wait=wait
        )

    # --- session ---------------------------------------------------------------

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        """With `instance`: log the terminal in with these credentials (see "Logging in"):
        TerminalError(-6) when the server refuses them, -10005 when the terminal does
        not connect within `login_timeout`, -2 for a password a start-up file cannot carry.

        Without: attach to the terminal the EA runs, already logged in; the password is
        not used. TerminalError(-6) when it is logged in to another account, -10004 when
        the EA is not running."""
        if self.instance is not None:
            account = self._log_in(int(login), password, server)
        else:
            account = self._read_status().account
            if (account.login, account.server) != (int(login), server):
                raise TerminalError(
                    AUTH_FAILED,
                    f"Authorization failed: the EA's terminal is logged in to {account.login} on {account.server}",
                )
        self.login, self.server = account.login, account.server
        return account

    def _log_in(self, login: int, password: str, server: str) -> AccountInfo:
        root, name = self.instance.parent, self.instance.name
        if name != str(login):
            raise TerminalError(INVALID_PARAMS, f"The instance {name} is not the terminal of login {login}")
        try:
            config = instances.instance_config_write(root=root, login=name, password=password, server=server)
        except instances.InstanceError as error:
            raise TerminalError(INVALID_PARAMS, str(error)) from None
        try:
            instances.instance_stop(root=root, login=name, timeout=self.stop_timeout)
            # Written by the process just stopped: it says nothing about this login.
            (self.files_dir / STATUS_FILE).unlink(missing_ok=True)
            journal = Journal(self.instance / JOURNAL_DIR)
            instances.instance_start(root=root, login=name, config=config)
            return self._await_login(login, server, journal)
        except instances.InstanceError as error:
            self._stop_quietly(root, name)
            raise TerminalError(NO_IPC, str(error)) from None
        except TerminalError:
            self._stop_quietly(root, name)  # not left retrying a refused password
            raise
        finally:
            config.unlink(missing_ok=True)

    def _await_login(self, login: int, server: str, journal: "Journal") -> AccountInfo:
        give_up = time.monotonic() + self.login_timeout
        waiting_for = "the terminal to start"
        while True:
            try:
                snapshot = self._read_status()
            except TerminalError as error:
                if error.code == INVALID_VERSION:
                    raise
                waiting_for = f"the EA ({error.message})"
            else:
                account = snapshot.account
                if snapshot.connected is None:
                    raise TerminalError(
                        INVALID_VERSION, "The EA does not report whether its terminal is connected: update the EA"
                    )
                if snapshot.connected and (account.login, account.server) == (login, server):
                    return account
                if snapshot.connected:
                    other = f"{account.login} on {account.server}"
                    raise TerminalError(AUTH_FAILED, f"Authorization failed: the terminal logged in to {other}")
                # Our EA cannot read the journal and leaves last_error empty: the host reads it.
                if reason := snapshot.last_error or journal.refusal(login, server):
                    raise TerminalError(AUTH_FAILED, f"Authorization failed: {reason}")
                waiting_for = f"the trade server {server}"
            if time.monotonic() >= give_up:
                raise TerminalError(
                    LOGIN_TIMEOUT,
                    f"The terminal did not log in to {login} on {server} within {self.login_timeout:g} s"
                    f" (waiting for {waiting_for})",
                )
            self.wait(max(self.poll_interval, LOGIN_POLL))

    def _stop_quietly(self, root: Path, name: str) -> None:
        try:
            instances.instance_stop(root=root, login=name, timeout=self.stop_timeout)
        except (instances.InstanceError, OSError) as exc:  # the login's own error is the one to report
            logger.warning("Could not stop the terminal of login %s after a failed login: %s", name, exc)

    def shutdown(self) -> None:
        self.login = self.server = None

    def status(self) -> EAStatus:
        """The EA's latest snapshot, checked: TerminalError when not connected (-10004), the
        EA is not running (-10004), the file is unreadable (-10002), the terminal has
        been logged in to another account since connect (-6), or it reports that it lost
        its trade server (-10004) or that the server refused the account (-6)."""
        if self.login is None:
            raise TerminalError(NO_IPC, "Not connected to a terminal")
        snapshot = self._read_status()
        if (snapshot.account.login, snapshot.account.server) != (self.login, self.server):
            raise TerminalError(
                AUTH_FAILED, f"The EA's terminal is now logged in to {snapshot.account.login}, not {self.login}"
            )
        if snapshot.ea_loaded is False:
            raise TerminalError(NO_IPC, "The EA was removed from its chart, or its terminal is closing")
        # Figures of a terminal that is not connected are not the account's: no heartbeat may store them.
        if snapshot.connected is False and snapshot.last_error:
            raise TerminalError(AUTH_FAILED, f"Authorization failed: {snapshot.last_error}")
        if snapshot.connected is False:
            raise TerminalError(NO_IPC, f"The EA's terminal is not connected to {self.server}")
        return snapshot

    def _read_status(self) -> EAStatus:
        path = self.files_dir / STATUS_FILE
        give_up = time.monotonic() + PARTIAL_FILE_GRACE
        while True:
            try:
                snapshot = parse_status(path.read_text(encoding="utf-8-sig"))
                break
            except FileNotFoundError:
                raise TerminalError(NO_IPC, f"EA not running: no {STATUS_FILE} in {self.files_dir}") from None
            except (OSError, UnicodeDecodeError, ProtocolError) as exc:
                # Being replaced right now (Windows sharing violation) or written by a careless writer.
                if time.monotonic() >= give_up:
                    raise TerminalError(RECEIVE_FAILED, f"Unreadable {STATUS_FILE}: {exc}") from None
            self.wait(self.poll_interval)
        age = self.clock() - snapshot.time_msc / 1000
        if abs(age) > self.stale_after:
            raise TerminalError(NO_IPC, f"EA not responding: {STATUS_FILE} is {age:.0f} s off the host clock")
        self.snapshot = snapshot
        return snapshot

    # --- reads -----------------------------------------------------------------

    def account_info(self) -> AccountInfo:
        return self.status().account

    def symbols(self) -> list[str]:
        return list(self.status().symbols)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        return self.status().symbols.get(symbol)

    def symbol_infos(self, symbols: list[str] | None = None) -> list[SymbolInfo]:
        """All from one snapshot: one read of status.json, not one per symbol."""
        known = self.status().symbols
        return [known[name] for name in (known if symbols is None else symbols) if name in known]

    def tick(self, symbol: str) -> Tick | None:
        return self.status().ticks.get(symbol)

    def positions(self, *, symbol: str | None = None, ticket: int | None = None) -> list[Position]:
        return [
            p
            for p in self.status().positions
            if (not symbol or p.symbol == symbol) and (not ticket or p.ticket == ticket)
        ]

    def orders(self, *, symbol: str | None = None) -> list[PendingOrder]:
        return [o for o in self.status().orders if not symbol or o.symbol == symbol]

    def deals(self, *, since: datetime, until: datetime) -> list[Deal]:
        """Every deal in the window, money movements included, from a deals report of the EA
        (the whole history, not the snapshot's last day). TerminalError -10002 when a report
        is refused (nothing of it returned), -10001 when none comes in time."""
        self.status()  # the EA must be alive and on our account
        return self._deals.history(self.login, int(since.timestamp() * 1000), int(until.timestamp() * 1000))

    # --- trading ---------------------------------------------------------------

    def order_check(self, request: OrderRequest) -> OrderResult:
        """Asks the EA (MQL5 OrderCheck) through a check_command file; nothing is traded."""
        return self._exchange(request, kind="check", original_symbol="", copy_order_id="")

    def order_send(
        self,
        request: OrderRequest,
        *,
        kind: CommandKind = "webhook",
        original_symbol: str = "",
        copy_order_id: str = "",
    ) -> OrderResult:
        """Send a command and wait for its result; see the module docstring for what the
        answers mean. `kind` "slave" writes a slave_command linked to the master's
        `copy_order_id`; `original_symbol` is the symbol the signal asked for (logs only)."""
        if kind not in ("webhook", "slave"):
            raise ValueError(f"kind must be 'webhook' or 'slave', not {kind!r}")
        if (kind == "slave") != bool(copy_order_id):
            raise ValueError("a slave command needs the master's copy_order_id, and only a slave command has one")
        return self._exchange(request, kind=kind, original_symbol=original_symbol, copy_order_id=copy_order_id)

    def _exchange(self, request: OrderRequest, *, kind: str, original_symbol: str, copy_order_id: str) -> OrderResult:
        self.status()  # the EA must be alive and on our account before we hand it anything
        self._discard_late_results()
        now_msc = int(self.clock() * 1000)
        command_id = f"{now_msc:013d}-{secrets.token_hex(6)}"
        fields = command_fields(request, copy_order_id=copy_order_id)
        if isinstance(fields, OrderResult):
            return fields
        command = {
            "version": PROTOCOL_VERSION,
            "command_id": command_id,
            "timestamp": now_msc,
            "expires_msc": now_msc + int(self.timeout * 1000),
            "account": self.login,
            "original_symbol": original_symbol or request.symbol,
            **fields,
        }
        if copy_order_id:
            command["order_id"] = copy_order_id
        path = self.files_dir / f"{COMMAND_PREFIXES[kind]}{command_id}.json"
        try:
            write_json_atomically(path, command)
        except ValueError:
            return OrderResult(retcode=INVALID, comment="The request holds a number that is not finite")
        except OSError as exc:
            raise TerminalError(SEND_FAILED, f"Could not write the command for the EA: {exc}") from None
        return self._await_result(path, command_id)

    def _await_result(self, command_path: Path, command_id: str) -> OrderResult:
        result_path = self.files_dir / f"result_{command_id}.json"
        deadline = time.monotonic() + self.timeout
        broken_since: float | None = None
        while True:
            try:
                result = parse_result(result_path.read_text(encoding="utf-8-sig"), command_id)
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError, ProtocolError) as exc:
                # Give a writer that is not atomic a moment to finish before calling the file broken.
                broken_since = broken_since or time.monotonic()
                if time.monotonic() - broken_since >= PARTIAL_FILE_GRACE or time.monotonic() >= deadline:
                    self._remove(result_path, command_path)
                    logger.warning("EA command %s: unreadable result: %s", command_id, exc)
                    return OrderResult(
                        retcode=RECEIVE_FAILED, comment=f"The EA's result could not be read ({exc}); outcome unknown"
                    )
            else:
                # A result while the command file is still there: the EA did not claim it,
                # and must not find it again on its next poll.
                self._remove(result_path, command_path)
                return result
            if time.monotonic() >= deadline:
                return self._give_up(command_path, command_id)
            self.wait(self.poll_interval)

    def _give_up(self, command_path: Path, command_id: str) -> OrderResult:
        try:
            command_path.unlink()
        except OSError:  # gone (the EA claimed it) or held open by the EA
            self._unanswered.add(command_id)
            logger.warning("EA command %s: taken but no result within %s s", command_id, self.timeout)
            return OrderResult(
                retcode=TIMEOUT,
                comment=f"The EA took the command but did not answer within {self.timeout:g} s; it may have run",
            )
        logger.warning("EA command %s: not taken within %s s, withdrawn", command_id, self.timeout)
        return OrderResult(
            retcode=TIMEOUT, comment=f"The EA did not take the command within {self.timeout:g} s; withdrawn unexecuted"
        )

    def _discard_late_results(self) -> None:
        for command_id in list(self._unanswered):
            path = self.files_dir / f"result_{command_id}.json"
            try:
                late = parse_result(path.read_text(encoding="utf-8-sig"), command_id)
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError, ProtocolError) as exc:
                logger.warning("EA command %s: late result unreadable: %s", command_id, exc)
            else:
                logger.warning(
                    "EA command %s: late result retcode %s order %s deal %s",
                    command_id,
                    late.retcode,
                    late.order,
                    late.deal,
                )
            path.unlink(missing_ok=True)
            self._unanswered.discard(command_id)

    @staticmethod
    def _remove(*paths: Path) -> None:
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # the EA holds it open: leave it rather than fail a call that has its answer
                logger.warning("Could not delete %s: %s", path.name, exc)
