"""The host agent: one process per host beside its qcluster (`manage.py host_agent`).

Every interval it writes the host's heartbeat (CPU, memory, terminals running), reads
each assigned account's terminal (balance, equity, margin, profit; online/offline
transitions recorded and published), retries a failing terminal with exponential
backoff up to a cap, marks hosts whose heartbeat is three intervals late offline, and
executes the orders the queue left behind (terminals.orders.queue.orders_sweep) and follows
placed pending orders to their fill or end (terminals.orders.placed).

On a Windows host the agent also owns the host's terminal sessions (terminals.sessions):
it starts them for itself and for the host's workers, which ask its SessionDirectory, and
stops those of accounts no longer served here.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import psutil
from django.conf import settings
from django.db import close_old_connections
from django.db.models import QuerySet
from django.utils import timezone

from mt5saas.crypto import decrypt

from .drivers import read_at_once
from .drivers.base import AccountInfo, Driver, TerminalError
from .drivers.ea_bridge import EABridgeDriver
from .models import TerminalHost, TradingAccount
from .orders.placed import accounts_with_placed_orders, pending_orders_settle
from .orders.queue import orders_sweep
from .services import (
    account_ea_report,
    account_heartbeat,
    account_set_status,
    account_update,
    accounts_assign_waiting,
    accounts_heartbeat,
    hosts_mark_stale,
)
from .sessions.protocol import SessionSpec
from .sessions.registry import SessionRegistry, account_session_spec
from .signals import account_read, accounts_read_chunk, round_done
from .tasks import ea_bridge_log_in

log = logging.getLogger(__name__)

AUTH_FAILED = -6
NOT_FOUND = -7
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 300.0
# Accounts read and recorded together: a few statements for all of them instead of several
# each, while what was read is at most one chunk's reading time old when it is recorded.
CHUNK = 100


@dataclass
class Backoff:
    failures: int = 0
    next_try: float = 0.0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.next_try = now + min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (self.failures - 1))

    def ready(self, now: float) -> bool:
        return now >= self.next_try


def served_accounts(host: TerminalHost) -> QuerySet[TradingAccount]:
    """The accounts whose terminals the host keeps running."""
    return TradingAccount.objects.filter(host=host, deleted_at__isnull=True).exclude(status__in=TradingAccount.INACTIVE)


def host_session_spec(host: TerminalHost, account_id: int) -> SessionSpec:
    """The account's session spec, if the host serves it; raises TerminalError otherwise, so
    a worker's request cannot start a session the agent would stop on its next round."""
    if not served_accounts(host).filter(pk=account_id).exists():
        raise TerminalError(
            NOT_FOUND, f"Account {account_id} is not served by host {host.name} (stopped, deleted, refused or moved)"
        )
    return account_session_spec(account_id)


@dataclass
class HostAgent:
    host: TerminalHost
    open_driver: Callable[[TradingAccount], Driver]
    interval: timedelta = timedelta(seconds=5)
    clock: Callable[[], float] = time.monotonic
    backoff: dict[int, Backoff] = field(default_factory=dict)
    sessions: SessionRegistry | None = None  # the host's sessions, when this agent owns them
    placed: set[int] = field(default_factory=set)  # this round's accounts with placed pending orders

    def tick(self) -> None:
        """One round: host heartbeat, account heartbeats, stale hosts."""
        accounts_assign_waiting(host=self.host)
        accounts = list(served_accounts(self.host))
        if self.sessions is not None:
            # Stopped, deleted, refused or moved away: its terminal is let go here.
            self.sessions.keep_only(account.pk for account in accounts)
        # The host's own heartbeat first: a slow terminal must not make the host look dead.
        self._host_heartbeat(terminals_running=None)
        self.placed = accounts_with_placed_orders(account_ids=[account.pk for account in accounts])
        online, this_round = 0, {}
        for start in range(0, len(accounts), CHUNK):
            chunk, readings = accounts[start : start + CHUNK], []
            with read_at_once(chunk):
                for account in chunk:
                    try:
                        if (info := self._account_tick(account, this_round)) is not None:
                            readings.append((account, info))
                    except Exception:
                        # One broken account (undecryptable password, a bug) must not stop the others.
                        log.exception("heartbeat of account %s failed", account.pk)
            try:
                accounts_heartbeat(readings=readings)
                online += len(readings)
            except Exception:
                log.exception("the heartbeats of %s account(s) could not be recorded", len(readings))
            read = [account for account, _ in readings]
            for receiver, outcome in accounts_read_chunk.send_robust(
                sender=HostAgent, accounts=read, this_round=this_round
            ):
                if isinstance(outcome, Exception):
                    log.error("%s failed for a chunk of %s account(s)", receiver, len(read), exc_info=outcome)
        self._host_heartbeat(terminals_running=online)
        if finished := orders_sweep(accounts=TradingAccount.objects.filter(host=self.host)):
            log.warning("%s order(s) left behind by the queue were executed by the host agent", finished)
        accounts_here = TradingAccount.objects.filter(host=self.host)
        for receiver, outcome in round_done.send_robust(sender=HostAgent, host=self.host, accounts=accounts_here):
            if isinstance(outcome, Exception):
                log.error("%s failed at the end of the round", receiver, exc_info=outcome)
        for host in hosts_mark_stale(interval=self.interval):
            log.warning("host %s missed three heartbeats; its accounts are offline", host.name)

    def _host_heartbeat(self, *, terminals_running: int | None) -> None:
        fields = {
            "online": True,
            "heartbeat_at": timezone.now(),
            "cpu_percent": psutil.cpu_percent(interval=None),
            "memory_percent": psutil.virtual_memory().percent,
        }
        if terminals_running is not None:
            fields["terminals_running"] = terminals_running
        TerminalHost.objects.filter(pk=self.host.pk).update(**fields)

    def _account_tick(self, account: TradingAccount, this_round: dict) -> AccountInfo | None:
        """Read the account's terminal: its figures (for accounts_heartbeat), or None when it
        did not answer (recorded here) or waits for its backoff."""
        state = self.backoff.setdefault(account.pk, Backoff())
        now = self.clock()
        if not state.ready(now):
            return None
        try:
            if account.kind == TradingAccount.Kind.EA_BRIDGE and account.logged_in_host_id != self.host.pk:
                self._log_in(account)
            driver = self.open_driver(account)
            try:
                try:
                    info = driver.account_info()
                finally:
                    if isinstance(driver, EABridgeDriver) and (said := driver.snapshot) is not None:
                        # Also when the EA's own words (removed from its chart) made the read fail.
                        account_ea_report(
                            account=account, loaded=said.ea_loaded, running=said.ea_running, name=said.ea_name
                        )
                if not account.symbols:
                    # Signals are mapped against these names at intake, without a host round trip.
                    account_update(account=account, symbols=driver.symbols())
                if account.pk in self.placed:
                    pending_orders_settle(account=account, driver=driver)
                for receiver, outcome in account_read.send_robust(
                    sender=HostAgent, account=account, driver=driver, this_round=this_round
                ):
                    if isinstance(outcome, Exception):
                        log.error("%s failed for account %s", receiver, account.pk, exc_info=outcome)
            finally:
                driver.shutdown()
        except TerminalError as error:
            if error.code == AUTH_FAILED:
                account_set_status(account=account, status=TradingAccount.Status.ERROR, reason=error.message)
                return None
            state.failed(now)
            # The reason stays the same across retries, so one outage is one recorded event.
            account_heartbeat(account=account, info=None, error=error.message)
            return None
        self.backoff[account.pk] = Backoff()
        return info

    def _log_in(self, account: TradingAccount) -> None:
        """An EA bridge account this host's terminal has not been logged in with (assigned
        while no host was online, or moved here): log it in with its stored credentials."""
        deadline = time.time() + settings.EA_LOGIN_TIMEOUT_S
        password = decrypt(account.password)
        ea_bridge_log_in(account.login, password, account.server, deadline=deadline, account_id=account.pk)
        account_update(account=account, logged_in_host=self.host)

    def run(self, *, rounds: int | None = None, stop: threading.Event | None = None) -> None:
        """Rounds every interval until `rounds` are done or `stop` is set; a round under way
        when it is set is finished first, so the agent stops between rounds, never inside one."""
        stop = stop or threading.Event()
        done = 0
        while (rounds is None or done < rounds) and not stop.is_set():
            started = time.monotonic()
            # A long-lived process: drop connections the database closed or that outlived CONN_MAX_AGE.
            close_old_connections()
            try:
                self.tick()
            except Exception:
                # A database hiccup must not end the agent: log it and try next round.
                log.exception("host agent round failed")
            done += 1
            stop.wait(max(0.0, self.interval.total_seconds() - (time.monotonic() - started)))
