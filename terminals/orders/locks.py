"""Who may drain an account: one drain at a time, whichever task a broker redelivers.

The drain lock goes with its holder (the database server or the operating system releases it
when the process dies), so a drain killed mid-way holds its account up only until the next
drain. Where there is no such lock (an in-memory SQLite database) a lease stands in: a
conditional UPDATE, of two drains exactly one wins, freed when it expires.
"""

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from ..models import TradingAccount
from . import MAGIC

LEASE = timedelta(seconds=120)  # a drain whose holder may be alive: longer than the task timeout (60 s)


def drain_lock_path(account_id: int) -> Path | None:
    """The drain lock file of an account on SQLite: in settings.ORDER_DRAIN_LOCK_DIR, else beside
    the database, whose every user is on this machine. None for an in-memory database without
    that setting."""
    if settings.ORDER_DRAIN_LOCK_DIR:
        return Path(settings.ORDER_DRAIN_LOCK_DIR) / f"{account_id}.lock"
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
def drain_lock(account_id: int) -> Iterator[bool | None]:
    """The account's drain lock, which goes with its holder: a PostgreSQL advisory lock of
    the drain's session (the server drops it when the process dies, after rolling back what
    it left unfinished) or an OS lock on a file (SQLite). True while held, False when a
    live drain holds it, None where there is no such lock (the lease expiring must do)."""
    if connection.vendor == "postgresql":
        with _advisory_lock(account_id) as held:
            yield held
        return
    path = drain_lock_path(account_id) if connection.vendor == "sqlite" else None
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


@contextmanager
def _advisory_lock(account_id: int) -> Iterator[bool]:
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


def lease_take(account_id: int) -> bool:
    """The lease, if free or expired."""
    now = timezone.now()
    free = TradingAccount.objects.filter(pk=account_id).filter(Q(drain_until__isnull=True) | Q(drain_until__lt=now))
    return bool(free.update(drain_until=now + LEASE))


def lease_extend(account_id: int, taken: datetime) -> datetime:
    """Renew the lease once a quarter of it has gone by (a write per order would cost every
    order a transaction); returns when it was last renewed."""
    now = timezone.now()
    if now - taken < LEASE / 4:
        return taken
    TradingAccount.objects.filter(pk=account_id).update(drain_until=now + LEASE)
    return now


def lease_release(account_id: int) -> None:
    TradingAccount.objects.filter(pk=account_id).update(drain_until=None)


@contextmanager
def drain_locks(account_ids: list[int]) -> Iterator[list[int]]:
    """The drain locks (or leases) of those accounts no live drain holds, taken together:
    on PostgreSQL in one statement. Yields the accounts held."""
    if connection.vendor == "postgresql":
        with _advisory_locks(account_ids) as held:
            yield held
        return
    with ExitStack() as stack:
        held = []
        for account_id in account_ids:
            locked = stack.enter_context(drain_lock(account_id))
            if locked is None:  # no lock where the database is in memory: the lease stands in
                locked = lease_take(account_id)
                if locked:
                    stack.callback(lease_release, account_id)
            if locked:
                held.append(account_id)
        yield held


@contextmanager
def _advisory_locks(account_ids: list[int]) -> Iterator[list[int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM unnest(%s::int8[]) AS id WHERE pg_try_advisory_lock(%s::int4, (id %% 2147483648)::int4)",
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
