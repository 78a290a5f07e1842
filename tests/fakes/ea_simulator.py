"""The EA's side of the file bridge, in Python, trading on the simulated paper broker.

It follows the protocol in docs/ea-protocol.md the way the MQL5 EA in ea/ does: it
looks for command files in name order, claims each by deleting it, refuses what it
cannot accept with a result saying why, executes the rest on a SimulatedDriver,
refreshes status.json and then writes the result, all atomically.

Two ways to run it. Stepped (the default of ea_bridge_driver): the driver lets the EA
take one turn whenever it reads the snapshot or waits for a result, so everything runs
in the test's thread on the test's database connection (the `db` fixture is enough).
Threaded (`start()`/`stop()`): the EA polls on its own like the real one; its thread
has its own database connection, so use `transactional_db`.

Test hooks: `paused` (the EA is frozen: it takes nothing and status.json goes stale),
`algo_trading` (False: Algo Trading is off, every trade is answered 10027), `remove_from_chart()`
(the EA writes its last status.json, ea_loaded false, and does nothing more),
`delay` (seconds spent on each command before answering), `hold_results` with
`release_results()` (answers come late), `rewrite_next_result()` (garbage, wrong types,
another command's id), `write_results_in_two_steps` (a writer that is not atomic),
`rewrite_next_report()` (a deals report's lines made into any text) and `deals_requests`
(every deals request the EA read).

The terminal too, when given the portable `instance` directory: then nothing runs until a
terminal64.exe process is started there (terminals.instances; the stand-in from
`terminal_stand_in()` just sleeps). At each new process the simulator logs in the way MT5
does: from the start-up configuration named by `/config:` on that process's command line
(its [Common] Login, Password and Server), or else from the credentials a previous
KeepPrivate=1 login saved. Only the account's real password connects; anything else
leaves the terminal unconnected with last_error "Invalid account". `config_modes` records
the permission bits of every configuration file it read.
"""

import codecs
import configparser
import json
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from django.db import OperationalError, connection

from terminals.drivers.base import AccountInfo, DealEntry, OrderRequest, OrderResult, OrderType, Position, TradeAction
from terminals.drivers.ea_bridge import EABridgeDriver
from terminals.drivers.ea_protocol import (
    PROTOCOL_VERSION,
    STATUS_FILE,
    EAStatus,
    ProtocolError,
    carries_link,
    command_link,
    field,
    load_json_object,
    write_json_atomically,
)
from terminals.instances import EXECUTABLE, instance_status, instance_stop
from terminals.paper.driver import SimulatedDriver
from terminals.retcodes import retcode_text

COMMAND_FILE = re.compile(r"^(webhook|slave|check)_command_([A-Za-z0-9_-]{1,64})\.json$")
DEALS_REQUEST_FILE = re.compile(r"^deals_request_([A-Za-z0-9_-]{1,64})\.json$")
DAY_MSC = 24 * 3600 * 1000
MAX_COMMAND_BYTES = 65536
TIMEOUT, INVALID, NO_CONNECTION, INVALID_ORDER, POSITION_CLOSED = 10012, 10013, 10031, 10035, 10036
AUTOTRADING_OFF = 10027
EA_NAME = "MT5SaaS_AllInOne"
# MT5's journal: "'<login>': authorization on <server> failed (Invalid account)".
INVALID_ACCOUNT = "Invalid account"
FILLINGS = {"FOK": 0, "IOC": 1, "RETURN": 2}
PENDING_TYPES = {
    ("BUY", "limit"): OrderType.BUY_LIMIT,
    ("SELL", "limit"): OrderType.SELL_LIMIT,
    ("BUY", "stop"): OrderType.BUY_STOP,
    ("SELL", "stop"): OrderType.SELL_STOP,
}


class Refused(Exception):
    """A command the EA answers without trading."""

    def __init__(self, retcode: int, reason: str) -> None:
        super().__init__(reason)
        self.retcode, self.reason = retcode, reason


class EASimulator:
    def __init__(
        self,
        files_dir: Path,
        *,
        login: int,
        password: str,
        server: str,
        clock: Callable[[], int] | None = None,
        poll_interval: float = 0.02,
        instance: Path | None = None,
    ) -> None:
        self.files_dir = files_dir
        files_dir.mkdir(parents=True, exist_ok=True)
        self.terminal = SimulatedDriver(clock=clock) if clock else SimulatedDriver()
        self.terminal.connect(login=login, password=password, server=server)
        self.login, self.server = login, server
        # The real EA cannot read the terminal's journal and writes last_error "": False plays it.
        self.reports_last_error = True
        self._password = password  # the broker's: what a start-up configuration must name
        self.instance = instance
        # Without an instance the terminal is run elsewhere and is logged in already.
        self.connected = instance is None
        self.last_error = ""
        self.trying = (login, server)
        self.config_modes: list[int] = []
        self._saved: tuple[str, str, str] | None = None
        self._process: tuple[int, float] | None = None
        self.poll_interval = poll_interval
        self.paused = False
        self.algo_trading = True
        self.loaded = True
        self.delay = 0.0
        self.hold_results = False
        self.write_results_in_two_steps = False
        # Every command file the EA read and could parse, oldest first, and every command file name it claimed.
        self.commands: list[dict[str, Any]] = []
        self.command_files: list[str] = []
        self._rewrites: list[Callable[[dict[str, Any]], str]] = []
        self._report_rewrites: list[Callable[[list[str]], str]] = []
        self.deals_requests: list[dict[str, Any]] = []
        self._held: list[tuple[Path, str]] = []
        self._half_written: list[tuple[Path, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if instance is None:
            self.publish_status()

    # --- test hooks ----------------------------------------------------------------

    def rewrite_next_result(self, rewrite: Callable[[dict[str, Any]], str]) -> None:
        """The next result file holds rewrite(result) instead of the result's JSON."""
        self._rewrites.append(rewrite)

    def rewrite_next_report(self, rewrite: Callable[[list[str]], str]) -> None:
        """The next deals report holds rewrite(lines) instead of its lines (header first), each ended by a newline."""
        self._report_rewrites.append(rewrite)

    def remove_from_chart(self) -> None:
        """What the EA's OnDeinit does when it leaves for good: one last status, ea_loaded false."""
        self.loaded = False
        self.publish_status()

    def release_results(self) -> None:
        """Write the results held back while hold_results was on."""
        held, self._held = self._held, []
        for path, text in held:
            self._write_result(path, text)

    # --- the EA's loop -------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ea-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        """Stop the EA's thread and the instance's terminal process, if any."""
        self.stop()
        if self.instance is not None:
            instance_stop(root=self.instance.parent, login=self.instance.name, timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                # The test database's tables are locked while another thread writes (SQLite's
                # shared in-memory cache does not wait): a real EA's next timer tick tries
                # again, and so does this one.
                with suppress(OperationalError):
                    self.poll_once()
                self._stop.wait(self.poll_interval)
        finally:
            connection.close()  # the thread's own connection

    def poll_once(self) -> None:
        """One OnTimer of the EA: finish half-written results, run pending commands, publish status."""
        if self.paused or not self.loaded:
            return
        if self.instance is not None and not self._terminal_runs():
            return  # no terminal, no EA
        for path, text in self._half_written:
            path.write_text(text, encoding="utf-8")
        self._half_written = []
        pending = []
        for entry in os.scandir(self.files_dir):
            if match := COMMAND_FILE.match(entry.name):
                pending.append((match[2], match[1], Path(entry.path)))
        for command_id, kind, path in sorted(pending):
            self._handle(path, kind, command_id)
        for entry in sorted(os.scandir(self.files_dir), key=lambda e: e.name):
            if match := DEALS_REQUEST_FILE.match(entry.name):
                self._report_deals(Path(entry.path), match[1])
        self.publish_status()

    def _report_deals(self, path: Path, request_id: str) -> None:
        """A deals request: claimed by deleting it, answered with the history asked for (docs/ea-protocol.md)."""
        try:
            data = path.read_bytes()
            path.unlink()
        except FileNotFoundError:
            return
        try:
            request = load_json_object(data.decode("utf-8-sig"))
            fields = {name: field(request, name, int) for name in ("account", "since_msc", "until_msc", "limit")}
            unexpired = time.time() * 1000 <= field(request, "expires_msc", int)
            usable = (
                field(request, "version", int) == PROTOCOL_VERSION and field(request, "request_id", str) == request_id
            )
        except (ProtocolError, UnicodeDecodeError):
            return  # as the EA: deleted, a line in its journal, no report
        self.deals_requests.append(request)
        if not (unexpired and usable and 1 <= fields["limit"] <= 5000):
            return
        deals, error = [], ""
        if not self.connected:
            error = "the terminal is not connected"
        elif fields["account"] != self.login:
            error = f"the terminal is logged in to {self.login}"
        else:
            found = self.terminal.deals(since=_moment(fields["since_msc"]), until=_moment(fields["until_msc"]))
            deals = sorted(found, key=lambda d: (d.time_msc, d.ticket))
        page = deals[: fields["limit"]]
        header = {
            "version": PROTOCOL_VERSION, "request_id": request_id, "account": self.login, "count": len(page),
            "complete": len(page) == len(deals), "error": error,
        }  # fmt: skip
        lines = [json.dumps(header), *(json.dumps(asdict(deal)) for deal in page)]
        text = self._report_rewrites.pop(0)(lines) if self._report_rewrites else "".join(f"{line}\n" for line in lines)
        report = self.files_dir / f"deals_{request_id}.jsonl"
        temporary = report.with_name(report.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, report)

    def _handle(self, path: Path, kind: str, command_id: str) -> None:
        try:
            data = path.read_bytes()
            path.unlink()  # the claim: a command the host withdrew first is not ours to run
        except FileNotFoundError:
            return
        # As the EA: a file it cannot take is answered like any other unreadable command.
        text = None if len(data) > MAX_COMMAND_BYTES else data.decode("utf-8-sig", errors="replace")
        self.command_files.append(path.name)
        if self.delay:
            time.sleep(self.delay)
        result = {"command_id": command_id, **self._answer(text, kind, command_id)}
        self.publish_status()
        text = self._rewrites.pop(0)(result) if self._rewrites else json.dumps(result)
        result_path = self.files_dir / f"result_{command_id}.json"
        if self.hold_results:
            self._held.append((result_path, text))
        else:
            self._write_result(result_path, text)

    def _write_result(self, path: Path, text: str) -> None:
        if self.write_results_in_two_steps:
            path.write_text(text[: len(text) // 2], encoding="utf-8")
            self._half_written.append((path, text))
            return
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)

    # --- the terminal (instance mode) --------------------------------------------------

    def _terminal_runs(self) -> bool:
        status = instance_status(root=self.instance.parent, login=self.instance.name)
        if not status.running:
            self._process = None
            return False
        try:
            process = psutil.Process(status.pid)
            started = (status.pid, process.create_time())
            if started != self._process:
                arguments = process.cmdline()
                if not any(Path(argument).name == EXECUTABLE for argument in arguments):
                    return False  # still starting (its command line is not readable yet): look again
                self._process = started
                self._terminal_start(arguments)
        except psutil.Error:
            return False
        return True

    def _still_running(self) -> bool:
        status = instance_status(root=self.instance.parent, login=self.instance.name)
        try:
            return status.running and (status.pid, psutil.Process(status.pid).create_time()) == self._process
        except psutil.Error:
            return False

    def _terminal_start(self, arguments: list[str]) -> None:
        """What MT5 does at start: log in from the start-up configuration, or else from saved credentials."""
        configs = [argument.removeprefix("/config:") for argument in arguments if argument.startswith("/config:")]
        credentials, keep = self._saved, False
        if configs:
            path = self.instance / configs[-1]  # relative to the data folder
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
                common = read_startup_config(path)
            except OSError:
                pass  # gone before this terminal read it: MT5 starts as if it had none
            else:
                self.config_modes.append(mode)
                credentials = (common.get("login", ""), common.get("password", ""), common.get("server", ""))
                keep = common.get("keepprivate") == "1"
        if credentials is None:
            self.connected, self.last_error = False, ""  # MT5 waits for someone to log in
            return
        login, password, server = credentials
        self.trying = (int(login) if login.isdigit() else 0, server)
        if (login, password, server) == (str(self.login), self._password, self.server):
            self.connected, self.last_error = True, ""
            if keep:
                self._saved = credentials
        else:
            self.connected, self.last_error = False, INVALID_ACCOUNT
            self._journal(f"'{login}': authorization on {server} failed ({INVALID_ACCOUNT})")

    def _journal(self, message: str) -> None:
        """A line of the terminal's journal, <instance>/logs/<yyyymmdd>.log in UTF-16 as MT5 writes it."""
        now = datetime.now()
        path = self.instance / "logs" / f"{now:%Y%m%d}.log"
        path.parent.mkdir(exist_ok=True)
        line = f"QQ\t0\t{now:%H:%M:%S.%f}"[:-3] + f"\tNetwork\t{message}\r\n"
        with path.open("ab") as file:
            file.write(line.encode("utf-16" if file.tell() == 0 else "utf-16-le"))

    def publish_status(self) -> None:
        if self.instance is not None and not self._still_running():
            return  # a terminal stopped while this turn ran writes nothing after its stop
        if not self.connected:
            login, server = self.trying
            account = AccountInfo(login, server, "", "", 0, 0.0, 0.0, 0.0, 0.0, 0.0, trade_allowed=False)
            status = {
                "version": PROTOCOL_VERSION,
                "time_msc": time.time_ns() // 1_000_000,
                "connected": False,
                "last_error": self.last_error if self.reports_last_error else "",
                **self._ea_fields(),
                "account": asdict(account),
                "symbols": [],
                "positions": [],
                "orders": [],
                "deals": [],
            }
            write_json_atomically(self.files_dir / STATUS_FILE, status)
            return
        terminal = self.terminal
        symbols = []
        for name in terminal.symbols():
            tick = terminal.tick(name)
            symbols.append(
                {**asdict(terminal.symbol_info(name)), "bid": tick.bid, "ask": tick.ask, "time_msc": tick.time_msc}
            )
        now = terminal.clock()
        deals = terminal.deals(since=_moment(now - DAY_MSC), until=_moment(now + 1000))
        status = {
            "version": PROTOCOL_VERSION,
            "time_msc": time.time_ns() // 1_000_000,  # the host clock: what staleness is judged by
            "connected": True,
            "last_error": "",
            **self._ea_fields(),
            "account": asdict(terminal.account_info()),
            "symbols": symbols,
            "positions": [asdict(p) for p in terminal.positions()],
            "orders": [asdict(o) for o in terminal.orders()],
            "deals": [asdict(d) for d in deals],
        }
        write_json_atomically(self.files_dir / STATUS_FILE, status)

    def _ea_fields(self) -> dict[str, Any]:
        return {"ea_name": EA_NAME, "ea_loaded": self.loaded, "ea_running": self.loaded and self.algo_trading}

    # --- one command -----------------------------------------------------------------

    def _answer(self, text: str | None, kind: str, command_id: str) -> dict[str, Any]:
        if text is None:
            return {
                "retcode": INVALID,
                "message": f"{retcode_text(INVALID)}: the command file is larger than 65536 bytes",
            }
        try:
            command = load_json_object(text)
            self.commands.append(command)
            if not self.connected:
                raise Refused(NO_CONNECTION, "the terminal is not logged in")
            if not self.algo_trading:
                raise Refused(AUTOTRADING_OFF, "AutoTrading is off in the terminal or for this EA")
            request, ticket = self._request(command, kind, command_id)
        except ProtocolError as exc:
            return {"retcode": INVALID, "message": f"{retcode_text(INVALID)}: {exc}"}
        except Refused as refused:
            return {"retcode": refused.retcode, "message": f"{retcode_text(refused.retcode)}: {refused.reason}"}
        if kind == "check":
            checked = self.terminal.order_check(request)
            return {
                **self._numbers(checked),
                "message": "Done" if checked.retcode == 0 else retcode_text(checked.retcode),
            }
        sent = self.terminal.order_send(request)
        message = retcode_text(sent.retcode) + (f": {sent.comment}" if sent.comment else "")
        if sent.deal and not ticket:
            ticket = self._position_of_deal(sent.deal)
        return {**self._numbers(sent), "ticket": ticket or sent.order, "message": message}

    def _request(self, command: dict[str, Any], kind: str, command_id: str) -> tuple[OrderRequest, int]:
        """The trade a command asks for and the ticket it acts on (0 when it opens one)."""
        if (version := field(command, "version", int)) != PROTOCOL_VERSION:
            raise Refused(INVALID, f"protocol version {version} is not supported")
        if field(command, "command_id", str) != command_id:
            raise Refused(INVALID, "command_id differs from the file name")
        if (account := field(command, "account", int)) != self.login:
            raise Refused(INVALID, f"command for account {account}; this terminal is logged in to {self.login}")
        if time.time() * 1000 > field(command, "expires_msc", int):
            raise Refused(TIMEOUT, "the command expired before the EA reached it")
        action, order_type = field(command, "action", str), field(command, "order_type", str)
        filling = field(command, "filling", str)
        if filling not in FILLINGS:
            raise Refused(INVALID, f"unknown filling {filling!r}")
        comment, order_id = field(command, "comment", str), ""
        if kind == "slave":
            order_id = field(command, "order_id", str)
            if not 1 <= len(order_id) <= 64 or not order_id.isprintable():
                raise Refused(INVALID, "order_id must be 1 to 64 printable characters")
            if not carries_link(comment, order_id):
                comment = command_link(order_id)  # the link is what later closes find the position by
        ticket = field(command, "ticket", int)
        numbers = [
            field(command, "volume", float),
            field(command, "price", float),
            field(command, "stop_loss", float),
            field(command, "take_profit", float),
            field(command, "ticket", int),
            field(command, "deviation", int),
            field(command, "magic", int),
            field(command, "timestamp", int),
        ]
        field(command, "original_symbol", str)
        if any(number < 0 for number in numbers):
            raise Refused(INVALID, "volume, prices, ticket, deviation and magic must not be negative")
        common = {
            "symbol": field(command, "symbol", str),
            "volume": field(command, "volume", float),
            "price": field(command, "price", float),
            "sl": field(command, "stop_loss", float),
            "tp": field(command, "take_profit", float),
            "deviation": field(command, "deviation", int),
            "type_filling": FILLINGS[filling],
            "magic": field(command, "magic", int),
            "comment": comment[:31],
        }
        if action in ("BUY", "SELL") and order_type == "market":
            return OrderRequest(action=TradeAction.DEAL, type=OrderType[action], **common), 0
        if (action, order_type) in PENDING_TYPES:
            return OrderRequest(action=TradeAction.PENDING, type=PENDING_TYPES[action, order_type], **common), 0
        if action in ("CLOSE", "MODIFY"):
            position = self._position(ticket, order_id)
            common |= {"symbol": position.symbol, "position": position.ticket}
            if action == "MODIFY":
                return OrderRequest(action=TradeAction.SLTP, **common), position.ticket
            closing = OrderType.SELL if position.type == OrderType.BUY else OrderType.BUY
            common["volume"] = common["volume"] or position.volume
            return OrderRequest(action=TradeAction.DEAL, type=closing, **common), position.ticket
        if action == "CANCEL":
            order = next((o for o in self.terminal.orders() if o.ticket == ticket), None)
            if order is None:
                raise Refused(INVALID_ORDER, f"no pending order {ticket}")
            return OrderRequest(action=TradeAction.REMOVE, symbol=order.symbol, order=ticket), ticket
        raise Refused(INVALID, f"unknown action {action!r} with order_type {order_type!r}")

    def _position(self, ticket: int, order_id: str) -> Position:
        if ticket:
            found = self.terminal.positions(ticket=ticket)
            reason = f"position {ticket} is not open"
        elif order_id:
            # The oldest position linked to the master's order.
            linked = [p for p in self.terminal.positions() if carries_link(p.comment, order_id)]
            found = sorted(linked, key=lambda p: (p.time_msc, p.ticket))
            reason = f"no open position carries {command_link(order_id)}"
        else:
            raise Refused(INVALID, "CLOSE and MODIFY need a ticket")
        if not found:
            raise Refused(POSITION_CLOSED, reason)
        return found[0]

    def _position_of_deal(self, deal: int) -> int:
        deals = self.terminal.deals(since=_moment(0), until=_moment(self.terminal.clock() + 1000))
        return next(d.position_id for d in deals if d.ticket == deal)

    @staticmethod
    def _numbers(result: OrderResult) -> dict[str, Any]:
        return {
            "retcode": result.retcode,
            "order": result.order,
            "deal": result.deal,
            "volume": result.volume,
            "price": result.price,
            "bid": result.bid,
            "ask": result.ask,
        }


def _moment(msc: int) -> datetime:
    return datetime.fromtimestamp(msc / 1000, tz=UTC)


def read_startup_config(path: Path) -> dict[str, str]:
    """The [Common] section of an MT5 start-up configuration, keys in lower case (UTF-16 with a
    BOM as MT5 writes its .ini files, or UTF-8)."""
    data = path.read_bytes()
    bom = data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(data.decode("utf-16") if bom else data.decode("utf-8-sig"))
    return dict(parser["Common"]) if parser.has_section("Common") else {}


def terminal_stand_in(instance: Path) -> Path:
    """A terminal64.exe for `instance` that only runs (the simulator plays the terminal's part)."""
    instance.mkdir(parents=True, exist_ok=True)
    executable = instance / EXECUTABLE
    executable.write_text(f"#!{sys.executable}\nimport time\nwhile True:\n    time.sleep(1)\n")
    executable.chmod(0o755)
    return executable


class SteppedEABridgeDriver(EABridgeDriver):
    """The driver with the simulated EA taking a turn before every read and while the
    driver waits, as a real EA polling on its own timer would have: one thread, one
    database connection."""

    def __init__(self, files_dir: Path, simulator: EASimulator, **options: Any) -> None:
        super().__init__(files_dir, wait=self._ea_turn, **options)
        self.simulator = simulator

    def _ea_turn(self, seconds: float) -> None:
        self.simulator.poll_once()
        time.sleep(seconds)

    def status(self) -> EAStatus:
        self.simulator.poll_once()
        return super().status()


def ea_bridge_driver(
    tmp_path: Path,
    *,
    login: int = 7001,
    password: str = "paper-pass",
    server: str = "SimBroker-Demo",
    clock: Callable[[], int] | None = None,
    threaded: bool = False,
    instance: bool = False,
    **options: Any,
) -> tuple[EABridgeDriver, EASimulator]:
    """A driver and the simulated EA behind it, in `<tmp_path>/<login>/MQL5/Files`.

    The EA's terminal is logged in and has published its first snapshot: call
    driver.connect(login=..., password=..., server=...) as with any driver. `clock` is
    the paper broker's (market hours, quotes); `options` go to the driver (timeout,
    stale_after, poll_interval, login_timeout). Threaded: the EA runs in its own thread and
    the caller stops it with simulator.stop().

    `instance`: `<tmp_path>/<login>` is a portable instance with a stand-in terminal64.exe
    and nothing runs yet; the driver's connect() logs the terminal in, and only the real
    `password` connects. The caller ends the terminal with simulator.close().
    """
    files = tmp_path / str(login) / "MQL5" / "Files"
    directory = tmp_path / str(login) if instance else None
    if directory is not None:
        terminal_stand_in(directory)
        options = {"instance": directory, "login_timeout": 10.0, **options}
    simulator = EASimulator(files, login=login, password=password, server=server, clock=clock, instance=directory)
    options = {"timeout": 2.0, "poll_interval": 0.005, **options}
    if threaded:
        simulator.start()
        return EABridgeDriver(files, **options), simulator
    return SteppedEABridgeDriver(files, simulator, **options), simulator


class EAMaster:
    """The EA's master mode in Python (docs/ea-protocol.md, "Master events"), as the MQL5 EA
    does it: deals after the cursor and SL/TP changes of a paper terminal become request
    bodies with stable ids, kept in ``master_queue.jsonl`` (first line the cursor, then one
    body a line), sent oldest first through `post(body) -> HTTP status` (-1: no answer); the
    oldest blocks the rest; 200 and 400/422 remove it, anything else keeps it for the next
    round. `queue_limit` bounds the queue: a new event past it is dropped and counted.

    A new EAMaster on the same directory is the EA restarted: it takes up the queue file.
    """

    QUEUE_FILE = "master_queue.jsonl"

    def __init__(
        self, files_dir: Path, terminal: SimulatedDriver, *, post: Callable[[str], int], queue_limit: int = 1000
    ) -> None:
        self.path = files_dir / self.QUEUE_FILE
        files_dir.mkdir(parents=True, exist_ok=True)
        self.terminal, self.post, self.queue_limit = terminal, post, queue_limit
        self.queue: list[str] = []
        self.last_deal, self.dropped, self.have_cursor = 0, 0, False
        self.stops: dict[int, tuple[float, float]] | None = None
        self._counter = 0
        if self.path.exists():
            cursor, *bodies = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
            header = json.loads(cursor)
            self.last_deal, self.dropped, self.have_cursor = header["last_deal"], header["dropped"], True
            self.queue = bodies

    def save(self) -> None:
        header = json.dumps({"last_deal": self.last_deal, "dropped": self.dropped})
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(f"{line}\n" for line in [header, *self.queue]), encoding="utf-8")
        os.replace(temporary, self.path)

    def round(self) -> None:
        """One timer round of the EA: scan deals, scan stops, send what waits."""
        self.scan_deals()
        self.scan_stops()
        self.flush()

    def _add(self, body: dict[str, Any]) -> None:
        if len(self.queue) >= self.queue_limit:
            self.dropped += 1
        else:
            self.queue.append(json.dumps(body, separators=(",", ":")))
        self.save()

    def _body(self, event: str, position_id: int, event_id: str, **fields: Any) -> dict[str, Any]:
        account = str(self.terminal.account_info().login)
        return {"event": event, "order_id": str(position_id), "account": account, "event_id": event_id, **fields}

    def scan_deals(self) -> None:
        now = self.terminal.clock()
        deals = sorted(
            (d for d in self.terminal.deals(since=_moment(now - 7 * DAY_MSC), until=_moment(now + DAY_MSC))
             if d.ticket > self.last_deal),
            key=lambda d: d.ticket,
        )  # fmt: skip
        if not self.have_cursor:  # first run: what was traded before is not copied
            self.last_deal, self.have_cursor = (deals[-1].ticket if deals else 0), True
            self.save()
            return
        for deal in deals:
            self.last_deal = deal.ticket
            if deal.type not in (OrderType.BUY, OrderType.SELL) or deal.comment.startswith("COPY_"):
                continue
            event_id = f"deal-{deal.ticket}"
            if deal.entry == DealEntry.IN:
                opened = self.terminal.positions(ticket=deal.position_id)
                sl, tp = (opened[0].sl, opened[0].tp) if opened else (0.0, 0.0)
                side = "BUY" if deal.type == OrderType.BUY else "SELL"
                fields = {"symbol": deal.symbol, "type": side, "volume": deal.volume, "sl": sl, "tp": tp}
                self._add(self._body("deal_add", deal.position_id, event_id, **fields, deal=deal.ticket))
            elif deal.entry in (DealEntry.OUT, DealEntry.OUT_BY):
                self._add(self._body("deal_close", deal.position_id, event_id, volume=deal.volume, deal=deal.ticket))
            elif deal.entry == DealEntry.INOUT:  # a netting reversal closes the old position whole
                self._add(self._body("deal_close", deal.position_id, event_id, deal=deal.ticket))
        if deals:
            self.save()

    def scan_stops(self) -> None:
        seen = {}
        for position in self.terminal.positions():
            if position.comment.startswith("COPY_"):
                continue
            seen[position.identifier] = (position.sl, position.tp)
            before = (self.stops or {}).get(position.identifier)
            if self.stops is not None and before is not None and before != seen[position.identifier]:
                self._counter += 1
                event_id = f"mod-{position.identifier}-{self.terminal.clock()}-{self._counter}"
                sl, tp = seen[position.identifier]
                self._add(self._body("position_modify", position.identifier, event_id, sl=sl, tp=tp, sequence=event_id))
        self.stops = seen

    def flush(self) -> None:
        while self.queue:
            status = self.post(self.queue[0])
            if status not in (200, 400, 422):
                return  # kept: tried again next round, and nothing overtakes it
            self.queue.pop(0)
            self.save()
