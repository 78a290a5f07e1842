"""Waking the drains: the only place that hands orders to the task queue, and the host agent's
sweep for what the queue left behind.

A fan-out gets a task per worker that drains its share of the accounts one after the other,
not a task per account, so the queue's per-task overhead is paid once or twice.
"""

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from mt5saas import queues

from ..drivers import terminal_in_database
from ..models import Order, TerminalHost
from .drain import account_drain

log = logging.getLogger(__name__)

Status = Order.Status
# Accounts one drain task serves at most, one after the other: it must end well within the
# task timeout (60 s) on real terminals; simulated orders (SQLite) take milliseconds.
BATCH, SQLITE_BATCH = 25, 100
STALE_QUEUED = timedelta(seconds=15)
# An order still without queued_at this long after it was stored never reached the queue (it
# was down when the order committed): the sweep runs it without waiting for STALE_QUEUED.
NEVER_QUEUED = timedelta(seconds=2)


def queued_stamp() -> datetime | None:
    """queued_at for orders created now, when their tasks commit with them: the ORM broker
    keeps its queue in the orders' own database (`default`). None for a broker that must
    not see a task before its orders are committed: orders_enqueue stamps those."""
    return timezone.now() if settings.Q_CLUSTER.get("orm") == "default" else None


def _drain_task_shape(queue: str) -> tuple[int, int]:
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
    targets = _drain_targets(orders)
    unstamped = [order for order in orders if order.queued_at is None]
    if unstamped:
        transaction.on_commit(lambda: _enqueue_committed(targets, unstamped))
    else:
        _enqueue(targets, unstamped)


def _drain_targets(orders: list[Order]) -> dict[str, list[int]]:
    """The orders' accounts by the queue that drains them: their host's, or the default
    cluster's for terminals any worker reaches."""
    default = settings.Q_CLUSTER["name"]
    host_ids = {o.account.host_id for o in orders if not terminal_in_database(o.account.kind)}
    host_queues = dict(TerminalHost.objects.filter(pk__in=host_ids).values_list("pk", "queue_name")) if host_ids else {}
    targets: dict[str, list[int]] = {}
    for order in orders:
        account = order.account
        queue = default if terminal_in_database(account.kind) else host_queues.get(account.host_id, default)
        if account.pk not in targets.setdefault(queue, []):
            targets[queue].append(account.pk)
    return targets


def _enqueue(targets: dict[str, list[int]], unstamped: list[Order]) -> None:
    # One transaction for all: outside one, django-q2's ORM broker closes and reopens the
    # database connection for every task.
    with transaction.atomic(savepoint=False):  # inside the orders' transaction: all or nothing
        for queue, account_ids in targets.items():
            workers, size = _drain_task_shape(queue)
            for batch in drain_batches(account_ids, workers=workers, size=size):
                # save=False: a drain's result is in its orders; nobody fetches it.
                many = len(batch) > 1
                async_task(
                    "terminals.tasks.accounts_drain" if many else "terminals.tasks.account_drain",
                    batch if many else batch[0],
                    cluster=queue,
                    task_name=f"drain-{batch[0]}" + (f"+{len(batch) - 1}" if many else ""),
                    save=False,
                    broker=queues.queue_broker(queue),
                )
        if unstamped:
            now = timezone.now()
            Order.objects.filter(pk__in=[order.pk for order in unstamped]).update(queued_at=now)
            for order in unstamped:
                order.queued_at = now


def _enqueue_committed(targets: dict[str, list[int]], unstamped: list[Order]) -> None:
    try:
        _enqueue(targets, unstamped)
    except Exception:
        # The orders are committed: the request must not fail now (a 5xx makes TradingView
        # send a placed signal again). Unstamped, they are the host agent sweep's to run.
        log.warning("queue unavailable: %s order(s) left to the host agent's sweep", len(unstamped), exc_info=True)


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
