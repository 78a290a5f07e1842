"""Order execution (docs/execution.md): at most once, one account at a time, in arrival order.

- New orders enqueue a drain of their accounts on each account's host queue: one task per
  account for a few accounts, and for a fan-out (one signal or master event to many accounts)
  a task per worker that drains its share of the accounts one after the other (one task on
  SQLite, whose one writer makes parallel drains wait on each other), so that the queue's
  per-task overhead is paid once or twice, not once per account. A
  drain takes the account's drain lock (released by the database server or the operating
  system when its holder dies; where there is none, an in-memory SQLite database, a lease
  stands in: a conditional UPDATE, of two drains exactly one wins), then executes that
  account's orders oldest first until none is left. So orders of one account never run at
  once, whichever broker redelivers which task; and a drain killed mid-way holds the
  account up only until the sweeper's next round.
- A fan-out's drain takes the first order of each of its paper accounts in one round: their
  locks, reads, claim, sends (the paper terminals take them in one transaction) and final
  states a few statements for all of them, not a few dozen per order; what is left, and
  accounts on real terminals, go account by account.
- An order moves queued → sending in a committed UPDATE before the terminal is called.
  A drain that finds an order already `sending` (a worker died mid-call, the broker
  redelivered) asks the terminal for the order's client id before anything is sent; a real
  terminal is given SETTLE to finish what a dead worker asked before the order is resent.
- Requotes and moved prices are retried with a fresh price a bounded number of times;
  an ambiguous answer (placed, timeout, no connection, IPC errors) is checked against the
  terminal before any resend; an order whose fate cannot be checked stays `sending` for
  the sweeper, which reconciles it once the terminal answers.
- django-q2 alone redelivers too eagerly (ORM broker) or not at all (Redis broker after a
  worker died), and its cluster can stop taking tasks after a worker died: the host agent's
  sweep drains the accounts whose orders were left queued or sending itself.
"""

import logging
import math
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Q
from django.dispatch import Signal
from django.utils import timezone
from django_q.tasks import async_task

from mt5saas.db import rows_update
from mt5saas.events import publish_each, publish_to_user
from mt5saas.queues import queue_broker

from . import retcodes
from .drivers import open_driver, order_send_for
from .drivers.base import (
    Driver,
    OrderRequest,
    OrderResult,
    OrderType,
    Position,
    SymbolInfo,
    TerminalError,
    TradeAction,
)
from .models import Order, SymbolMapping, TerminalHost, TradingAccount
from .paper.book import read_together
from .paper.driver import SimulatedDriver
from .prepare import (
    PreparationError,
    close_share,
    filling_choose,
    percent_text,
    pips_to_price_distance,
    price_round,
    risk_volume,
    stop_loss_money,
    stops_check,
    volume_normalize,
)
from .symbols import MAPPING_NOT_READ, SymbolError, symbol_mappings_read, symbol_normalize, symbol_resolve

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)  # a drain whose holder may be alive: longer than the task timeout (60 s)
# A real terminal may still carry out what a worker asked just before it died: an interrupted
# order it does not show is resent only this long after it was sent.
SETTLE = timedelta(seconds=60)
MAX_SENDS = 3  # per order: the first send plus bounded retries after requotes or a checked ambiguity
MAX_CHECKS = 5  # drains that may find an order's fate unknown before it is declared failed
# Accounts one drain task serves at most, one after the other: it must end well within the
# task timeout (60 s) on real terminals; simulated orders (SQLite) take milliseconds.
BATCH, SQLITE_BATCH = 25, 100
MAGIC = 520_617  # marks our orders on a terminal, beside the client id in the comment
STALE_QUEUED = timedelta(seconds=15)
HOUR = timedelta(hours=1)  # max_trades_per_hour counts the orders sent this long back
CENT = Decimal("0.01")
# DEAL_TYPE_BUY and DEAL_TYPE_SELL: a deposit or withdrawal (DEAL_TYPE_BALANCE) is no trading loss.
TRADE_DEALS = (0, 1)
# An order still without queued_at this long after it was stored never reached the queue (it
# was down when the order committed): the sweep runs it without waiting for STALE_QUEUED.
NEVER_QUEUED = timedelta(seconds=2)
Status = Order.Status
# Retcodes that mean the request itself was refused (the trader's or the market's doing).
REJECTED_CODES = frozenset(
    {10006, 10013, 10014, 10015, 10016, 10017, 10018, 10019, 10022, 10026, 10027, 10030, 10032, 10033}
    | {10034, 10035, 10036, 10038, 10039, 10040, 10042, 10043, 10044, 10045, 10046}
)


# Sent when orders reach their final state, with `orders` (a list: a fan-out's round records
# many at once), inside the transaction that records them (so what a receiver writes commits
# with the states, in one write). The copy trading app listens: a copied order that filled
# links the slave position and passes the trade on to the slave's own slaves. Receivers must
# not raise, and must not wait on anything outside the database (the transaction holds
# SQLite's one writer): the drain goes on regardless.
orders_finished = Signal()


class Refused(Exception):
    """The order is not sent: a guard or the preparation said no; the reason says why."""


# --- queueing -----------------------------------------------------------------------


def queued_stamp() -> datetime | None:
    """queued_at for orders created now, when their tasks commit with them: the ORM broker
    keeps its queue in the orders' own database (`default`). None for a broker that must
    not see a task before its orders are committed: orders_enqueue stamps those."""
    return timezone.now() if settings.Q_CLUSTER.get("orm") == "default" else None


def _parallel(queue: str) -> tuple[int, int]:
    """How many drain tasks of a queue may run side by side, and how many accounts one takes.

    SQLite has one writer: drains side by side wait on each other's writes, and its busy wait
    backs off up to 100 ms at a time, so one drain there does a fan-out several times sooner
    than two. Elsewhere each of the queue's workers takes a share."""
    if connection.vendor == "sqlite":
        return 1, SQLITE_BATCH
    cluster = settings.Q_CLUSTER.get("ALT_CLUSTERS", {}).get(queue, {})
    return max(1, int(cluster.get("workers", settings.Q_CLUSTER.get("workers", 1)))), BATCH


def drain_batches(account_ids: list[int], *, workers: int, size: int = 0) -> list[list[int]]:
    """A queue's accounts split into drain tasks: one per worker at least (they run side by
    side), and none with more than `size` accounts (a task must end well within its timeout)."""
    count = min(len(account_ids), max(workers, math.ceil(len(account_ids) / (size or BATCH))))
    return [account_ids[i::count] for i in range(count)]


def orders_enqueue(*, orders: list[Order]) -> None:
    """Wake the accounts of orders just created in the caller's transaction: at once when
    their tasks can commit with them (queued_stamp), else right after the commit."""
    default = settings.Q_CLUSTER["name"]
    host_ids = {o.account.host_id for o in orders if o.account.kind != TradingAccount.Kind.SIMULATED}
    queues = dict(TerminalHost.objects.filter(pk__in=host_ids).values_list("pk", "queue_name")) if host_ids else {}
    targets: dict[str, list[int]] = {}
    for order in orders:
        account = order.account
        simulated = account.kind == TradingAccount.Kind.SIMULATED
        queue = default if simulated else queues.get(account.host_id, default)
        if account.pk not in targets.setdefault(queue, []):
            targets[queue].append(account.pk)
    unstamped = [order for order in orders if order.queued_at is None]

    def enqueue() -> None:
        # One transaction for all: outside one, django-q2's ORM broker closes and reopens
        # the database connection for every task.
        with transaction.atomic(savepoint=False):  # inside the orders' transaction: all or nothing
            for queue, account_ids in targets.items():
                workers, size = _parallel(queue)
                for batch in drain_batches(account_ids, workers=workers, size=size):
                    # save=False: a drain's result is in its orders; nobody fetches it.
                    many = len(batch) > 1
                    async_task(
                        "terminals.tasks.accounts_drain" if many else "terminals.tasks.account_drain",
                        batch if many else batch[0],
                        cluster=queue,
                        task_name=f"drain-{batch[0]}" + (f"+{len(batch) - 1}" if many else ""),
                        save=False,
                        broker=queue_broker(queue),
                    )
            if unstamped:
                now = timezone.now()
                Order.objects.filter(pk__in=[order.pk for order in unstamped]).update(queued_at=now)
                for order in unstamped:
                    order.queued_at = now

    def enqueue_committed() -> None:
        try:
            enqueue()
        except Exception:
            # The orders are committed: the request must not fail now (a 5xx makes TradingView
            # send a placed signal again). Unstamped, they are the host agent sweep's to run.
            log.warning("queue unavailable: %s order(s) left to the host agent's sweep", len(unstamped), exc_info=True)

    if unstamped:
        transaction.on_commit(enqueue_committed)
    else:
        enqueue()


def orders_sweep(*, accounts) -> int:
    """Drain, here and now, the accounts whose orders wait too long or sit in `sending` (a
    live drain holds such an account, and then the drain here returns at once; a dead one's
    lock is gone); returns how many orders reached a final state.

    The host agent calls it every round on the host of these accounts' terminals, so orders
    end even when the queue does not deliver: the Redis broker drops the task of a worker that
    died, the ORM broker redelivers only after `retry`, and a worker killed while it waits for
    work leaves django-q2's task queue locked, after which its cluster takes no task at all
    until it is restarted (django-q2 issue #23). Re-enqueuing would wait on that same queue.
    """
    now = timezone.now()
    stuck = (
        Order.objects.filter(account__in=accounts)
        .filter(
            Q(status=Status.QUEUED, created_at__lt=now - STALE_QUEUED)
            | Q(status=Status.QUEUED, queued_at__isnull=True, created_at__lt=now - NEVER_QUEUED)
            | Q(status=Status.SENDING)
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    done = 0
    for account_id in list(stuck):
        try:
            done += account_drain(account_id)
        except Exception:
            # One account's failure (a database hiccup, a bug) must not keep the others waiting.
            log.exception("sweep: the drain of account %s failed", account_id)
    return done


# --- the drain ------------------------------------------------------------------------


def _lock_path(account_id: int) -> Path | None:
    """The drain lock file of an account on SQLite: beside the database, whose every user is
    on this machine. None for an in-memory database."""
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    return Path(f"{name}-drains") / f"{account_id}.lock"


def _file_lock(fd: int, *, lock: bool) -> None:
    if os.name == "nt":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK if lock else msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if lock else fcntl.LOCK_UN)


@contextmanager
def _drain_lock(account_id: int) -> Iterator[bool | None]:
    """The account's drain lock, which goes with its holder: a PostgreSQL advisory lock of
    the drain's session (the server drops it when the process dies, after rolling back what
    it left unfinished) or an OS lock on a file (SQLite). True while held, False when a
    live drain holds it, None where there is no such lock (the lease expiring must do)."""
    if connection.vendor == "postgresql":
        key = [MAGIC, account_id % 2**31]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key)
            held = cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with suppress(DatabaseError), connection.cursor() as cursor:  # a lost session holds nothing
                    cursor.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", key)
        return
    path = _lock_path(account_id) if connection.vendor == "sqlite" else None
    if path is None:
        yield None
        return
    path.parent.mkdir(exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            _file_lock(fd, lock=True)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            _file_lock(fd, lock=False)
    finally:
        os.close(fd)


def _lease_take(account_id: int) -> bool:
    """The lease, if free or expired."""
    now = timezone.now()
    free = TradingAccount.objects.filter(pk=account_id).filter(Q(drain_until__isnull=True) | Q(drain_until__lt=now))
    return bool(free.update(drain_until=now + LEASE))


def _lease_extend(account_id: int, taken: datetime) -> datetime:
    """Renew the lease once a quarter of it has gone by (a write per order would cost every
    order a transaction); returns when it was last renewed."""
    now = timezone.now()
    if now - taken < LEASE / 4:
        return taken
    TradingAccount.objects.filter(pk=account_id).update(drain_until=now + LEASE)
    return now


def _lease_release(account_id: int) -> None:
    TradingAccount.objects.filter(pk=account_id).update(drain_until=None)


@contextmanager
def _drain_locks(account_ids: list[int]) -> Iterator[list[int]]:
    """The drain locks (or leases) of those accounts no live drain holds, taken together:
    on PostgreSQL in one statement. Yields the accounts held."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM unnest(%s::int8[]) AS id"
                " WHERE pg_try_advisory_lock(%s::int4, (id %% 2147483648)::int4)",
                [account_ids, MAGIC],
            )
            held = [row[0] for row in cursor.fetchall()]
        try:
            yield held
        finally:
            if held:
                with suppress(DatabaseError), connection.cursor() as cursor:  # a lost session holds nothing
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s::int4, (id %% 2147483648)::int4) FROM unnest(%s::int8[]) AS id",
                        [MAGIC, held],
                    )
        return
    with ExitStack() as stack:
        held = []
        for account_id in account_ids:
            locked = stack.enter_context(_drain_lock(account_id))
            if locked is None:  # no lock where the database is in memory: the lease stands in
                locked = _lease_take(account_id)
                if locked:
                    stack.callback(_lease_release, account_id)
            if locked:
                held.append(account_id)
        yield held


def _pending(account_id: int):
    return _pending_of([account_id])


def _pending_of(account_ids: list[int]):
    return Order.objects.filter(account_id__in=account_ids, status__in=[Status.QUEUED, Status.SENDING])


def accounts_drain(account_ids: list[int]) -> int:
    """Execute the waiting orders of several accounts (a fan-out's share of accounts on one
    queue); returns how many reached a final state. The first order of each paper account
    goes in one round with the others (_heads_execute); what is left then goes account by
    account. One account's failure does not keep the others waiting: its orders stay for
    the sweeper."""
    done, unsettled = 0, set()
    try:
        done, unsettled = _heads_execute(account_ids)
    except Exception:
        log.exception("the drain of accounts %s together failed", account_ids)
    waiting = set(_pending_of(account_ids).values_list("account_id", flat=True))
    for account_id in account_ids:
        if account_id not in waiting or account_id in unsettled:
            continue
        try:
            done += account_drain(account_id)
        except Exception:
            log.exception("the drain of account %s failed", account_id)
    return done


def account_drain(account_id: int) -> int:
    """Execute the account's waiting orders, oldest first; returns how many reached a final
    state. Safe to call any number of times at once: only the holder of its lock (or lease) works."""
    done = 0
    while _pending(account_id).exists():
        with _drain_lock(account_id) as locked:
            # The lock admits one drain and goes with its holder; the lease (two writes per
            # drain) stands in for it only where there is none.
            leased = timezone.now() if locked is None else None
            if locked is False or (leased and not _lease_take(account_id)):
                return done  # another drain holds the account; it loops until nothing waits
            driver, stale = None, False
            try:
                for order in _pending(account_id).select_related("account").order_by("created_at", "pk"):
                    if driver is None:
                        # A lease left by a drain that died (without a lock, it waited to expire): cleared below.
                        stale = order.account.drain_until is not None
                        driver, ended = _attach(order)
                        if driver is None:
                            return done + ended  # refused, or the terminal is away: orders wait for the sweeper
                    finished = order_execute(order=order, driver=driver)
                    done += finished
                    if leased:
                        leased = _lease_extend(account_id, leased)
                    if not finished and _pending(account_id).filter(pk=order.pk).exists():
                        return done  # its fate is not known yet: the orders after it wait for the sweeper
            finally:
                if driver is not None:
                    driver.shutdown()
                if leased or stale:
                    _lease_release(account_id)
    return done


def _attach(order: Order) -> tuple[Driver | None, int]:
    """The account's driver, or None and how many waiting orders that ended (refused or failed)."""
    account = order.account
    if account.status in (TradingAccount.Status.STOPPED, TradingAccount.Status.ERROR) or account.deleted_at:
        # Not to be traded: every waiting order is refused with the reason.
        reason = f"Account {account.login} is {account.status}: {account.status_reason or 'not trading'}"
        refused = list(_pending(account.pk).filter(status=Status.QUEUED))
        for waiting in refused:
            _finish(waiting, Status.REJECTED, reason=reason)
        return None, len(refused)
    try:
        return open_driver(account), 0
    except TerminalError as error:
        log.warning("account %s: terminal unavailable (%s); orders wait", account.pk, error.message)
        queued = _pending(account.pk).filter(status=Status.QUEUED)
        stale = list(queued.filter(created_at__lt=timezone.now() - STALE_QUEUED * 4))
        for waiting in stale:
            _finish(waiting, Status.FAILED, reason=f"The terminal did not answer: {error.message}")
        return None, len(stale)


# --- first orders together ---------------------------------------------------------------


def _heads_execute(account_ids: list[int]) -> tuple[int, set[int]]:
    """The first waiting order of each paper account among these, in one round: claimed
    together (one committed write before any terminal is called), sent together (the paper
    terminals' one transaction: all of them took their order or none), recorded together.
    Returns how many reached a final state, and the accounts whose order's fate is not known
    yet (their next orders wait for the sweeper).

    A fan-out in a few statements instead of a few dozen per order. Everything
    else goes account by account through account_drain: an interrupted order, an account
    not to be traded or whose terminal does not answer, and real terminals, whose sends take
    far longer than the bookkeeping and which are better claimed one order at a time (an
    order claimed but never sent waits SETTLE after a crash)."""
    with _drain_locks(account_ids) as held:
        heads: dict[int, Order] = {}
        for order in _pending_of(held).select_related("account").order_by("created_at", "pk"):
            heads.setdefault(order.account_id, order)
        ready = [
            order
            for order in heads.values()
            if order.status == Status.QUEUED
            and order.account.kind == TradingAccount.Kind.SIMULATED
            and order.account.status not in (TradingAccount.Status.STOPPED, TradingAccount.Status.ERROR)
            and not order.account.deleted_at
        ]
        if not ready:
            return 0, set()
        drivers: dict[int, Driver] = {}
        try:
            with read_together((order.account.server, order.account.login) for order in ready):
                for order in ready:
                    with suppress(TerminalError):  # left to account_drain, which says what waits
                        drivers[order.pk] = open_driver(order.account)
            claimed = _claim_together([order for order in ready if order.pk in drivers])
            outcomes = _carry_out_together([(order, drivers[order.pk]) for order in claimed], _Known.read(claimed))
            finished, done, unsettled = [], 0, set()
            for order, outcome in zip(claimed, outcomes, strict=True):
                if outcome is None:
                    done += _unknown(order)
                    unsettled.add(order.account_id)
                else:
                    finished.append((order, *outcome))
            _finish_together(finished)
            return done + len(finished), unsettled
        finally:
            for driver in drivers.values():
                driver.shutdown()


@dataclass
class _Known:
    """What the guards of a round of orders (one per account) read at once."""

    mappings: dict[tuple[int, str], SymbolMapping] = field(default_factory=dict)
    sent: dict[int, int] = field(default_factory=dict)  # account → others sent in the last hour

    @classmethod
    def read(cls, orders: list[Order]) -> "_Known":
        known = cls()
        if not orders:
            return known
        known.mappings = symbol_mappings_read((order.account_id, order.requested_symbol) for order in orders)
        accounts = {order.account_id for order in orders}
        sent = (
            Order.objects.filter(
                account_id__in=accounts, sent_at__gte=timezone.now() - HOUR, status__in=COUNTED_TRADES
            )
            .exclude(pk__in=[order.pk for order in orders])
            .values("account_id")
            .annotate(count=Count("pk"))
        )
        known.sent = {row["account_id"]: row["count"] for row in sent}
        return known

    def mapping(self, order: Order):
        """The account's mapping of the order's symbol, None if it has none; MAPPING_NOT_READ for
        a symbol that does not normalise (symbol_resolve says why)."""
        try:
            return self.mappings.get((order.account_id, symbol_normalize(order.requested_symbol)))
        except SymbolError:
            return MAPPING_NOT_READ


# --- one order -------------------------------------------------------------------------


def order_event(order: Order) -> dict:
    return {
        "id": order.pk,
        "signal": order.signal_id,
        "account": order.account_id,
        "status": order.status,
        "reason": order.status_reason,
        "retcode": order.retcode,
        "retcode_text": retcodes.retcode_text(order.retcode),
        "ticket": order.ticket,
        "fill_price": str(order.fill_price) if order.fill_price is not None else None,
        "created_at": order.created_at.isoformat(),
        "queued_at": order.queued_at.isoformat() if order.queued_at else None,
        "sent_at": order.sent_at.isoformat() if order.sent_at else None,
        "done_at": order.done_at.isoformat() if order.done_at else None,
    }


def _claim(order: Order) -> bool:
    """queued → sending, committed before the terminal is called; False if it was not queued."""
    return bool(_claim_together([order]))


def _claim_together(orders: list[Order]) -> list[Order]:
    """queued → sending for all of them in one committed write, before any terminal is
    called; none if any of them is no longer queued."""
    if not orders:
        return []
    now = timezone.now()
    with transaction.atomic():  # the states and their events: one write
        claimed = Order.objects.filter(pk__in=[order.pk for order in orders], status=Status.QUEUED).update(
            status=Status.SENDING, sent_at=now, attempts=F("attempts") + 1
        )
        if claimed != len(orders):
            transaction.set_rollback(True)
            return []
        for order in orders:
            order.status, order.sent_at, order.attempts = Status.SENDING, now, order.attempts + 1
        _publish_orders(orders)
    return orders


def _publish_orders(orders: list[Order]) -> None:
    publish_each((order.owner_id, "order", order_event(order)) for order in orders)


# What the trades-per-hour guard counts: what reached the broker, or may have.
COUNTED_TRADES = (Status.FILLED, Status.PLACED, Status.SENDING)

FINISH_FIELDS = [
    "status", "status_reason", "done_at", "retcode", "ticket", "fill_price", "filled_volume", "symbol", "digits",
    "position_ticket",  # an open on a netting account: the position it filled into
]  # fmt: skip


def _finish(order: Order, status: str, *, reason: str = "", result: OrderResult | None = None) -> None:
    _finish_together([(order, status, reason, result)])


def _finish_together(finished: list[tuple[Order, str, str, OrderResult | None]]) -> None:
    """Record final states: the states, their events, the signals' outcomes and the
    receivers' bookkeeping in one write. An order no longer queued or sending (another drain
    recorded it) is left alone."""
    now = timezone.now()
    for order, status, reason, result in finished:
        order.status, order.status_reason, order.done_at = status, reason[:300], now
        if result is not None:
            order.retcode = result.retcode
            order.ticket = result.order or result.deal or order.ticket
            order.fill_price = Decimal(str(result.price)) if result.price else order.fill_price
            order.filled_volume = Decimal(str(result.volume)).quantize(Decimal("0.0001")) if result.volume else None
    orders = [order for order, *_ in finished]
    if orders and not _record(orders) and len(orders) > 1:
        # Some were recorded meanwhile (another drain): the others one by one.
        for order in orders:
            _record([order])


def _record(orders: list[Order]) -> bool:
    """The final states, their events, the signals' outcomes and the receivers' bookkeeping:
    one write, if every one of the orders is still queued or sending (else none)."""
    with transaction.atomic():
        written = rows_update(orders, FINISH_FIELDS, where="status IN (%s, %s)", params=[Status.QUEUED, Status.SENDING])
        if written != len(orders):
            transaction.set_rollback(True)
            return False
        _publish_orders(orders)
        for signal_id in dict.fromkeys(order.signal_id for order in orders if order.signal_id is not None):
            signal_outcome_record(next(order for order in orders if order.signal_id == signal_id))
        _announce(orders)
    return True


def _announce(orders: list[Order]) -> None:
    """orders_finished, inside the transaction that records the final states. A receiver's
    failure is logged and undoes only the receivers' writes (a savepoint), never the states."""
    ids = ", ".join(str(order.pk) for order in orders)
    try:
        with transaction.atomic():
            for receiver, outcome in orders_finished.send_robust(sender=Order, orders=orders):
                if isinstance(outcome, Exception):
                    log.error("orders %s: %s failed", ids, receiver, exc_info=outcome)
    except DatabaseError:
        log.exception("orders %s: the receivers of their final states left the database in error", ids)


def signal_outcome_record(order: Order) -> None:
    """A signal none of whose orders filled is marked so (the Alerts app tells the trader)."""
    from webhooks.models import Signal

    siblings = Order.objects.filter(signal_id=order.signal_id)
    if siblings.exclude(status__in=Order.FINAL).exists() or siblings.filter(status=Status.FILLED).exists():
        return
    if Signal.objects.filter(pk=order.signal_id, status=Signal.Status.ACCEPTED).update(status=Signal.Status.UNFILLED):
        publish_to_user(order.owner_id, "signal", {"id": order.signal_id, "status": Signal.Status.UNFILLED})


def order_execute(*, order: Order, driver: Driver) -> int:
    """Bring one order to a final state (1) or leave it `sending` for a later check (0)."""
    if order.status == Status.SENDING:
        # Interrupted before: the terminal decides whether it exists, not a resend.
        try:
            found = _find(driver, order)
        except TerminalError:
            return _unknown(order)
        if found is not None:
            status = Status.PLACED if found.retcode == retcodes.PLACED else Status.FILLED
            _finish(order, status, reason="Found on the terminal after an interruption.", result=found)
            return 1
        if not _settled(order):
            return 0  # the terminal may still be carrying out what a dead worker asked: look again later
    elif not _claim(order):
        return 0
    outcome = _carry_out(order, driver)
    if outcome is None:
        return _unknown(order)
    _finish(order, outcome[0], reason=outcome[1], result=outcome[2])
    return 1


Outcome = tuple[str, str, OrderResult | None]  # final status, reason, the terminal's last answer


def _carry_out(order: Order, driver: Driver, known: "_Known | None" = None) -> Outcome | None:
    """Prepare and send a claimed order; its outcome, or None when it could not be established."""
    return _carry_out_together([(order, driver)], known)[0]


def _carry_out_together(work: list[tuple[Order, Driver]], known: "_Known | None" = None) -> list[Outcome | None]:
    """_carry_out for orders of different accounts, their first requests sent together
    (_first_sends); what follows (retries, a close's further positions) goes order by order."""
    prepared = [_requests(order, driver, known) for order, driver in work]
    if len(work) > 1:
        # The quotes moved while the whole round was prepared: a market request goes at the
        # price of now, as it would had it been sent right after its own preparation.
        for (_, driver), requests in zip(work, prepared, strict=True):
            if isinstance(requests, list):
                requests[0] = _quoted(driver, requests[0])
    sending = [
        (driver, order, requests[0])
        for (order, driver), requests in zip(work, prepared, strict=True)
        if isinstance(requests, list)
    ]
    firsts = iter(_first_sends(sending))
    return [
        _sent(order, driver, requests, next(firsts)) if isinstance(requests, list) else requests
        for (order, driver), requests in zip(work, prepared, strict=True)
    ]


def _requests(order: Order, driver: Driver, known: "_Known | None") -> list[OrderRequest] | Outcome:
    """What to send for the order, or its outcome when nothing is to be sent."""
    try:
        requests = _prepare(order, driver, known)
    except Refused as refusal:
        return Status.REJECTED, str(refusal), None
    except TerminalError as error:
        return Status.FAILED, f"The terminal could not answer: {error.message}", None
    if not requests:
        nothing = "Nothing to change." if order.action == Order.Action.MODIFY_SLTP else "Nothing to close."
        return Status.CANCELLED, nothing, None
    return requests


def _first_sends(sends: list[tuple[Driver, Order, OrderRequest]]) -> list[OrderResult]:
    """One request of each order (of different accounts): several paper terminals in one call
    of a few statements (SimulatedDriver.order_send_many), any other terminal on its own."""
    paper = [i for i, (driver, _, _) in enumerate(sends) if isinstance(driver, SimulatedDriver)]
    together = {}
    if len(paper) > 1:
        together = dict(
            zip(paper, SimulatedDriver.order_send_many([(sends[i][0], sends[i][2]) for i in paper]), strict=True)
        )
    return [together[i] if i in together else _send_once(*send) for i, send in enumerate(sends)]


def _quoted(driver: Driver, request: OrderRequest) -> OrderRequest:
    if request.action != TradeAction.DEAL or not request.price:
        return request  # a close or a pending order: no market price to keep
    return _repriced(driver, request) or request


def _sent(order: Order, driver: Driver, requests: list[OrderRequest], first: OrderResult) -> Outcome | None:
    """The outcome of an order whose first request got `first`: its retries and further requests sent."""
    results = []
    for index, request in enumerate(requests):
        result = _send(driver, order, request, first=first if index == 0 else None)
        if result is None:
            return None
        results.append(result)
        if result.retcode not in (retcodes.DONE, retcodes.DONE_PARTIAL):
            break
    last = results[-1]
    if last.retcode == retcodes.PLACED or (last.retcode == retcodes.DONE and requests[0].action == TradeAction.PENDING):
        # A pending order waits at its price: terminals.pending follows it to its fill or its end.
        return Status.PLACED, "", replace(last, price=0.0, volume=0.0)
    if last.retcode in (retcodes.DONE, retcodes.DONE_PARTIAL):
        if order.action == Order.Action.OPEN and not order.account.hedging:
            order.position_ticket = _netted_into(order, driver)
        return Status.FILLED, f"Closed {len(results)} position(s)." if len(requests) > 1 else "", last
    status = Status.REJECTED if last.retcode in REJECTED_CODES else Status.FAILED
    return status, retcodes.retcode_text(last.retcode), last


def _netted_into(order: Order, driver: Driver) -> int | None:
    """The position an open that filled on a netting account is in: the symbol's one position,
    which the order may have joined (its own ticket then names no position). Its identifier,
    which a reversal keeps; None if the terminal does not say."""
    with suppress(TerminalError):
        for position in driver.positions(symbol=order.symbol):
            return position.identifier
    return None


def _settled(order: Order) -> bool:
    """Whether an interrupted order the terminal does not show may be sent (again). The
    simulated terminal is the database: what a dead worker left unfinished was rolled back
    before its drain lock or lease could be taken. A real terminal gets SETTLE."""
    if order.account.kind == TradingAccount.Kind.SIMULATED:
        return True
    return order.sent_at is None or order.sent_at < timezone.now() - SETTLE


def _unknown(order: Order) -> int:
    """The terminal cannot say whether the order exists: keep it `sending` for the sweeper,
    up to MAX_CHECKS drains, then say so plainly."""
    Order.objects.filter(pk=order.pk).update(attempts=order.attempts + 1)
    order.attempts += 1
    if order.attempts >= MAX_CHECKS:
        _finish(
            order,
            Status.FAILED,
            reason="The terminal never confirmed or denied this order: check the account before resending.",
        )
        return 1
    return 0


def _send_once(driver: Driver, order: Order, request: OrderRequest) -> OrderResult:
    try:
        return order_send_for(driver, request, link=order.link, requested_symbol=order.requested_symbol)
    except TerminalError as error:
        return OrderResult(retcode=error.code, comment=error.message)


def _send(
    driver: Driver, order: Order, request: OrderRequest, *, first: OrderResult | None = None
) -> OrderResult | None:
    """order_send with bounded retries; None when the outcome could not be established.
    `first`: the answer to the request already sent."""
    result = None
    for attempt in range(MAX_SENDS):
        result = first if attempt == 0 and first is not None else _send_once(driver, order, request)
        if result.retcode in retcodes.RETRY_WITH_NEW_PRICE and request.action == TradeAction.DEAL:
            request = _repriced(driver, request)
            if request is None:
                return result
            continue
        if result.retcode in retcodes.AMBIGUOUS:
            try:
                found = _find(driver, order, request)
            except TerminalError:
                return None
            if found is not None:
                return found
            continue  # checked: it is not there, so it may be sent again
        return result
    return result


def _repriced(driver: Driver, request: OrderRequest) -> OrderRequest | None:
    """A market request at the current quote; None when the symbol has none."""
    tick = driver.tick(request.symbol)
    if tick is None:
        return None
    return replace(request, price=tick.ask if request.type == OrderType.BUY else tick.bid)


def _find(driver: Driver, order: Order, request: OrderRequest | None = None) -> OrderResult | None:
    """The order's trace on the terminal (by client id in the comment), as a result."""
    if order.action == Order.Action.MODIFY_SLTP:
        return _find_modify(driver, order)
    # A copy's comment is "COPY_<order_id> <client id>" (Order.terminal_comment); others carry the client id alone.
    cids = {order.client_id, order.terminal_comment}
    for position in driver.positions():
        if position.comment in cids:
            return OrderResult(
                retcode=retcodes.DONE, order=position.ticket, price=position.price_open, volume=position.volume
            )
    for pending in driver.orders():
        if pending.comment in cids:
            # Still waiting at its price: placed, not filled.
            return OrderResult(retcode=retcodes.PLACED, order=pending.ticket)
    since = (order.sent_at or order.created_at) - timedelta(minutes=5)
    for deal in driver.deals(since=since, until=timezone.now() + timedelta(minutes=5)):
        if deal.comment in cids:
            return OrderResult(
                retcode=retcodes.DONE, deal=deal.ticket, order=deal.order, price=deal.price, volume=deal.volume
            )
    return None


def _find_modify(driver: Driver, order: Order) -> OrderResult | None:
    """An SL/TP change leaves no deal and no comment: it happened if the position shows it."""
    ticket = _position_ticket(order)
    for position in driver.positions(ticket=ticket) if ticket is not None else []:
        info = driver.symbol_info(position.symbol)
        if info is not None and (position.sl, position.tp) == _sltp(order, info):
            return OrderResult(retcode=retcodes.DONE, order=position.ticket, price=position.price_open)
    return None


# --- preparation -------------------------------------------------------------------------


def _opener(order: Order) -> Order | None:
    """The order that opened the position this one acts on or adds to (position_of), as it is now."""
    if order.position_of_id is None:
        return None
    return Order.objects.filter(pk=order.position_of_id).only("status", "ticket", "position_ticket").first()


def _position_ticket(order: Order) -> int | None:
    """The position a close or modify acts on: named, or that of the order that opened it
    (on a netting account, the position it filled into: _netted_into)."""
    if order.position_ticket is not None:
        return order.position_ticket
    opener = _opener(order)
    if opener is None or opener.status != Status.FILLED:
        return None
    return opener.position_ticket if opener.position_ticket is not None else opener.ticket


def _acted_on(positions: list[Position], ticket: int) -> list[Position]:
    """The position a ticket names: by its ticket, or by its identifier, which a netting
    reversal (or a broker's reopening for swaps) keeps while the ticket changes."""
    return [p for p in positions if p.ticket == ticket] or [p for p in positions if p.identifier == ticket]


def _lots_held(order: Order, position: Position) -> Decimal:
    """The lots of `position` a close of the order that opened it (position_of) may take. On a
    netting account other orders' lots share the position: only the opener's, with its
    additions, less what its closes took; elsewhere the whole position."""
    lots = Decimal(str(position.volume))
    if order.account.hedging or order.position_of_id is None:
        return lots
    line = Order.objects.filter(Q(pk=order.position_of_id) | Q(position_of_id=order.position_of_id))
    fills = line.filter(status=Status.FILLED).order_by("pk")
    held = Decimal(0)
    for action, filled, volume, fraction in fills.values_list("action", "filled_volume", "volume", "close_fraction"):
        if action == Order.Action.OPEN:
            held += filled or volume or 0
        elif action == Order.Action.CLOSE_TICKET:
            # A terminal that did not say how much a close took: what it asked for.
            held -= filled or volume or (held if fraction is None else close_share(held, fraction))
    return min(lots, max(held, Decimal(0)))


def _sltp(order: Order, info: SymbolInfo) -> tuple[float, float]:
    """The order's stop loss and take profit on the symbol's price grid; 0 removes one."""
    sl = price_round(float(order.sl), info) if order.sl else 0.0
    tp = price_round(float(order.tp), info) if order.tp else 0.0
    return sl, tp


def _close_volume(order: Order, position: Position, driver: Driver) -> float:
    """The lots of `position` this close takes: all it may take (_lots_held), or the share or
    lots asked of that, rounded down to the symbol's step (never more than asked)."""
    open_lots = _lots_held(order, position)
    if open_lots <= 0:
        raise Refused(f"Nothing of position {position.ticket} is left of what order {order.position_of_id} opened.")
    whole = position.volume if open_lots >= Decimal(str(position.volume)) else float(open_lots)
    if order.close_fraction is None and order.volume is None:
        return whole
    wanted = close_share(open_lots, order.close_fraction) if order.close_fraction is not None else order.volume
    if wanted >= open_lots:
        return whole
    info = driver.symbol_info(position.symbol)
    if info is None:
        raise Refused(f"{position.symbol} has no specification on account {order.account.login}.")
    try:
        return float(volume_normalize(wanted.quantize(Decimal("0.00000001")), info))
    except PreparationError as error:
        raise Refused(f"Closing part of position {position.ticket}: {error.reason}") from None


def _modify_requests(order: Order, driver: Driver) -> list[OrderRequest]:
    ticket = _position_ticket(order)
    found = driver.positions(ticket=ticket) if ticket is not None else []
    if not found and ticket is not None:
        found = _acted_on(driver.positions(), ticket)
    if not found:
        what = f"position {ticket}" if ticket is not None else "position (it was never opened)"
        raise Refused(f"No open {what} on account {order.account.login} to change.")
    position = found[0]
    info = driver.symbol_info(position.symbol)
    if info is None:
        raise Refused(f"{position.symbol} has no specification on account {order.account.login}.")
    order.digits = info.digits
    sl, tp = _sltp(order, info)
    if (position.sl, position.tp) == (sl, tp):
        return []
    buy = position.type == OrderType.BUY
    try:
        # MT5 measures the stops of an open position from the price it would close at.
        stops_check(
            side="buy" if buy else "sell", price=position.price_current, sl=sl or None, tp=tp or None, info=info
        )
    except PreparationError as error:
        raise Refused(error.reason) from None
    order.symbol = position.symbol
    return [
        OrderRequest(
            action=TradeAction.SLTP,
            symbol=position.symbol,
            sl=sl,
            tp=tp,
            position=position.ticket,
            magic=MAGIC,
            comment=order.terminal_comment,
        )
    ]


def _prepare(order: Order, driver: Driver, known: "_Known | None" = None) -> list[OrderRequest]:
    """The terminal requests this order becomes, after guards and normalisation."""
    account = order.account
    if order.action == Order.Action.OPEN:
        if order.position_of_id is not None and _position_ticket(order) is None:
            # An addition (a netting copy) to a position its opener never opened: it would
            # open one of its own that nothing links, and no close of the master would reach.
            raise Refused(f"The position this adds to was not opened: order {order.position_of_id} did not fill.")
        _guards(order, driver, known)
        return [_open_request(order, driver)]
    if order.action == Order.Action.MODIFY_SLTP:
        return _modify_requests(order, driver)
    positions = driver.positions()
    if order.action == Order.Action.CLOSE_TICKET:
        ticket = _position_ticket(order)
        if ticket is None:
            raise Refused(f"The position to close on account {account.login} was never opened.")
        positions = _acted_on(positions, ticket)
        if not positions:
            raise Refused(f"No open position {ticket} on account {account.login}.")
    elif order.action == Order.Action.CLOSE_SYMBOL:
        symbol = _resolve(order, driver, known)
        positions = [p for p in positions if p.symbol == symbol]
    if order.side:
        wanted = OrderType.BUY if order.side == "buy" else OrderType.SELL
        positions = [p for p in positions if p.type == wanted]
    if positions and (info := driver.symbol_info(positions[0].symbol)) is not None:
        order.digits = info.digits  # the fill price shown is a close's first position's
    # A close always names its position: on a hedging account an unnamed opposite order
    # would open a new position instead.
    return [
        OrderRequest(
            action=TradeAction.DEAL,
            symbol=p.symbol,
            volume=_close_volume(order, p, driver) if order.action == Order.Action.CLOSE_TICKET else p.volume,
            type=OrderType.SELL if p.type == OrderType.BUY else OrderType.BUY,
            type_filling=filling_choose(driver.symbol_info(p.symbol)),
            position=p.ticket,
            magic=MAGIC,
            comment=order.terminal_comment,
        )
        for p in positions
    ]


def _resolve(order: Order, driver: Driver, known: "_Known | None" = None) -> str:
    mapping = known.mapping(order) if known is not None else MAPPING_NOT_READ
    try:
        symbol = symbol_resolve(
            account=order.account, requested=order.requested_symbol, available=driver.symbols(), mapping=mapping
        )
    except SymbolError as error:
        raise Refused(str(error)) from None
    order.symbol = symbol
    return symbol


def _guards(order: Order, driver: Driver, known: "_Known | None" = None) -> None:
    account = order.account
    symbol = _resolve(order, driver, known)
    allowed = account.allowed_symbols
    if allowed and symbol not in allowed and order.requested_symbol not in allowed:
        raise Refused(f"{symbol} is not among the account's allowed symbols.")
    if account.max_open_positions is not None and len(driver.positions()) >= account.max_open_positions:
        raise Refused(f"The account already has its maximum of {account.max_open_positions} open positions.")
    if known is not None:
        sent = known.sent.get(account.pk, 0)
    else:
        recent = Order.objects.filter(
            account=account, sent_at__gte=timezone.now() - HOUR, status__in=COUNTED_TRADES
        )
        sent = recent.exclude(pk=order.pk).count()
    if sent >= account.max_trades_per_hour:
        raise Refused(f"The account reached its limit of {account.max_trades_per_hour} trades per hour.")
    if account.max_daily_loss is not None or account.max_daily_loss_fraction is not None:
        _daily_loss_check(account, driver)


def _daily_loss_check(account: TradingAccount, driver: Driver) -> None:
    """Today's loss (closed deals since midnight UTC plus the open positions' floating
    profit) against the account's limits: an amount, and a fraction of the balance the day
    started with (today's balance less what today's deals realised)."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    deals = driver.deals(since=midnight, until=timezone.now())
    realised = sum(Decimal(str(d.profit)) for d in deals if d.type in TRADE_DEALS)
    info = driver.account_info()
    loss = -(realised + Decimal(str(info.profit)))
    if account.max_daily_loss is not None and loss >= account.max_daily_loss:
        raise Refused(f"Today's loss reached the account's limit of {account.max_daily_loss}.")
    if (fraction := account.max_daily_loss_fraction) is not None:
        limit = (fraction * (Decimal(str(info.balance)) - realised)).quantize(CENT)
        if loss >= limit:
            raise Refused(
                f"Today's loss of {loss.quantize(CENT)} {info.currency} reached the account's limit of "
                f"{percent_text(fraction)} of the day's starting balance ({limit} {info.currency})."
            )


def _trade_risk_check(account: TradingAccount, *, risk: Decimal, loss: Decimal | None = None) -> None:
    """Refuse a new position that risks more than the account's max_trade_risk_fraction of its
    balance: `risk` is the share asked for (a risk-sized order) or lost at the stop loss (`loss`)."""
    limit = account.max_trade_risk_fraction
    if limit is None or risk <= limit:
        return
    at_stop = f" ({loss.quantize(CENT)} {account.currency} at the stop loss)" if loss is not None else ""
    raise Refused(
        f"This order risks {percent_text(risk)} of the balance{at_stop}, above the account's limit of "
        f"{percent_text(limit)} per trade."
    )


def _open_request(order: Order, driver: Driver) -> OrderRequest:
    account, symbol = order.account, order.symbol
    info, tick = driver.symbol_info(symbol), driver.tick(symbol)
    if info is None or tick is None:
        raise Refused(f"{symbol} has no quote on account {account.login}.")
    order.digits = info.digits
    buy = order.side == "buy"
    pending = order.order_type in ("limit", "stop")
    try:
        entry = price_round(float(order.price), info) if pending else (tick.ask if buy else tick.bid)
        sl = price_round(float(order.sl), info) if order.sl is not None else 0.0
        tp = price_round(float(order.tp), info) if order.tp is not None else 0.0
        if order.sl_pips is not None:
            distance = pips_to_price_distance(float(order.sl_pips), info)
            sl = price_round(entry - distance if buy else entry + distance, info)
        if order.tp_pips is not None:
            distance = pips_to_price_distance(float(order.tp_pips), info)
            tp = price_round(entry + distance if buy else entry - distance, info)
        # MT5 measures stops of a market order from the price it would close at.
        reference = entry if pending else (tick.bid if buy else tick.ask)
        stops_check(side=order.side, price=reference, sl=sl or None, tp=tp or None, info=info)
        balance = None
        if order.risk_percent is not None or (account.max_trade_risk_fraction is not None and sl):
            balance = driver.account_info().balance
        if order.risk_percent is not None:
            if not sl:
                raise Refused("Sizing by risk needs a stop loss.")
            _trade_risk_check(account, risk=order.risk_percent / 100)
            volume = risk_volume(balance=balance, risk_percent=order.risk_percent, entry=entry, stop_loss=sl, info=info)
        else:
            volume = volume_normalize(order.volume, info)
        if account.max_lot is not None and volume > account.max_lot:
            raise Refused(f"{volume} lots is above the account's maximum of {account.max_lot}.")
        if account.max_trade_risk_fraction is not None and sl:
            loss = stop_loss_money(volume=volume, entry=entry, stop_loss=sl, info=info)
            if balance <= 0:
                raise Refused(f"The balance is {balance}: no loss at a stop fits the account's limit per trade.")
            _trade_risk_check(account, risk=loss / Decimal(str(balance)), loss=loss)
    except PreparationError as error:
        raise Refused(error.reason) from None
    types = {
        ("market", True): OrderType.BUY,
        ("market", False): OrderType.SELL,
        ("limit", True): OrderType.BUY_LIMIT,
        ("limit", False): OrderType.SELL_LIMIT,
        ("stop", True): OrderType.BUY_STOP,
        ("stop", False): OrderType.SELL_STOP,
    }
    return OrderRequest(
        action=TradeAction.PENDING if pending else TradeAction.DEAL,
        symbol=symbol,
        volume=float(volume),
        type=types[(order.order_type, buy)],
        price=entry,
        sl=sl,
        tp=tp,
        deviation=20,
        type_filling=filling_choose(info),
        magic=MAGIC,
        comment=order.terminal_comment,
    )
