"""A paper account as one terminal call reads and changes it, read in a few queries and written in one
statement a kind, whatever the number of accounts: a fan-out's round and the host agent's round touch
hundreds of paper accounts at once."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mt5saas.db import rows_update

from .models import SimAccount, SimDeal, SimOrder, SimPosition


@dataclass
class Book:
    """A paper account as a terminal call sees it: its row, open positions (oldest first) and
    pending orders. In a trade, kept as the trade changes them (Writes writes the changes)."""

    account: SimAccount
    positions: list[SimPosition]
    pending: list[SimOrder]

    def position(self, ticket: int) -> SimPosition:
        return next(p for p in self.positions if p.pk == ticket)


def books(accounts: Iterable[SimAccount]) -> dict[int, Book]:
    """These accounts (a queryset) with their positions and pending orders: three queries for any number."""
    found = {account.pk: Book(account, [], []) for account in accounts}
    for position in SimPosition.objects.filter(account_id__in=found).order_by("pk"):
        found[position.account_id].positions.append(position)
    for order in SimOrder.objects.filter(account_id__in=found, active=True).order_by("pk"):
        found[order.account_id].pending.append(order)
    return found


def books_locked(account_ids: list[int]) -> dict[int, Book]:
    """books() of these accounts with their rows locked for the caller's transaction, in key
    order: two trades on overlapping accounts cannot deadlock."""
    return books(SimAccount.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))


class Writes:
    """What a trade changed on its accounts, written at its end in one statement a kind,
    whatever the number of accounts."""

    def __init__(self) -> None:
        self.deals: list[SimDeal] = []
        self.opened: dict[int, SimPosition] = {}
        self.changed: dict[int, SimPosition] = {}
        self.closed: set[int] = set()
        self.orders: dict[int, SimOrder] = {}  # pending orders filled or removed
        self.accounts: dict[int, SimAccount] = {}  # balance or injected retcodes

    def flush(self) -> None:
        if gone := self.closed - self.opened.keys():
            SimPosition.objects.filter(pk__in=gone).delete()
        SimPosition.objects.bulk_create([p for pk, p in self.opened.items() if pk not in self.closed])
        changed = [p for pk, p in self.changed.items() if pk not in self.opened and pk not in self.closed]
        rows_update(changed, ["volume", "price_open", "sl", "tp"])
        rows_update(list(self.orders.values()), ["price_open", "active"])
        rows_update(list(self.accounts.values()), ["balance", "inject_retcodes"])
        SimDeal.objects.bulk_create(self.deals)  # sets their keys (PostgreSQL, SQLite ≥ 3.35)


_read_together: ContextVar[dict[tuple[str, int], Book] | None] = ContextVar("read_together", default=None)
# Deals of the accounts read together, by window: {"accounts": their keys, (since, until): {account: deals}}.
_deals_together: ContextVar[dict | None] = ContextVar("deals_together", default=None)
# A window longer than this (an account's first read) is read for its account alone.
DEALS_TOGETHER_MAX_MS = 3 * 24 * 3600 * 1000


@contextmanager
def read_together(logins: Iterable[tuple[str, int | str]]) -> Iterator[None]:
    """The paper terminals of these (server, login) read at once, in three queries instead of
    three each, for the host agent's round: the first driver that logs in to one of them
    meanwhile takes its reading, for its log-in and its first account_info(). Every other
    read is fresh (the copy watcher compares positions with deals read now), and so is what
    a write reads, under the account's lock."""
    wanted = {(server, int(login)) for server, login in logins}
    rows = SimAccount.objects.filter(server__in={s for s, _ in wanted}, login__in={login for _, login in wanted})
    found = books([a for a in rows if (a.server, a.login) in wanted])
    token = _read_together.set({(b.account.server, b.account.login): b for b in found.values()})
    deals_token = _deals_together.set({"accounts": set(found)})
    try:
        yield
    finally:
        _read_together.reset(token)
        _deals_together.reset(deals_token)


def readings_together() -> dict[tuple[str, int], Book]:
    """The books read_together read and no driver has taken yet, by (server, login); empty outside it."""
    return _read_together.get() or {}


def deals_together(account_id: int, since_ms: int, until_ms: int) -> list[SimDeal] | None:
    """The account's deals in the window, oldest first, read for every account of read_together
    at the first ask of that window (the host agent's round asks the same window of all its
    accounts: one query instead of one each); None outside read_together or for a long window."""
    together = _deals_together.get()
    if together is None or account_id not in together["accounts"] or until_ms - since_ms > DEALS_TOGETHER_MAX_MS:
        return None
    window = (since_ms, until_ms)
    if window not in together:
        rows = SimDeal.objects.filter(
            account_id__in=together["accounts"], time_msc__gte=since_ms, time_msc__lte=until_ms
        ).order_by("pk")
        together[window] = {}
        for row in rows:
            together[window].setdefault(row.account_id, []).append(row)
    return together[window].get(account_id, [])
