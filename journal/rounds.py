"""The host agent's rounds feed the journal: each account's deals are read from its cursor minus
an overlap while its terminal is open (terminals.signals.account_read), and the chunk's new ones
are stored together when the chunk is read (accounts_read_chunk), cursors in the same transaction.

Cost: the round's cursors are one query per host; a round with no new deals writes nothing.
Cursors sit on a ten-minute grid and move once per step, all together, so every account read
in a round asks for the same window and the paper broker answers them all in one query."""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from terminals.drivers.base import Deal as DriverDeal
from terminals.drivers.base import DealType, Driver
from terminals.models import TradingAccount

from .ingest import deals_store
from .models import DealCursor

log = logging.getLogger(__name__)

GRID_MS = 10 * 60 * 1000
DAY_MS = 24 * 3600 * 1000
KEY = "journal"


@dataclass
class Read:
    account: TradingAccount
    cursor: DealCursor | None
    found: list[DriverDeal]  # every deal of the window
    new: list[DriverDeal]  # those the cursor does not know


@dataclass
class RoundState:
    grid_ms: int  # this round's cursor value: its start, on the grid
    cursors: dict[int, DealCursor] = field(default_factory=dict)
    hosts: set[int | None] = field(default_factory=set)  # whose cursors are read
    reads: list[Read] = field(default_factory=list)
    digits: dict[tuple[int, str], int] = field(default_factory=dict)


def _msc(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _state(this_round: dict, host_id: int | None) -> RoundState:
    if KEY not in this_round:
        now = int(timezone.now().timestamp() * 1000)
        this_round[KEY] = RoundState(grid_ms=now - now % GRID_MS)
    state = this_round[KEY]
    if host_id not in state.hosts:  # every cursor of the host's accounts in one query
        state.hosts.add(host_id)
        state.cursors.update({c.account_id: c for c in DealCursor.objects.filter(account__host_id=host_id)})
    return state


def window(cursor: DealCursor | None, grid_ms: int) -> tuple[datetime, datetime]:
    """What to ask the terminal for: from the cursor minus the overlap (a broker may book a deal
    with a time before the moment it shows it, or stamp its own time zone), or for a first read
    JOURNAL_HISTORY_DAYS back; until a day ahead (server clocks ahead of ours)."""
    if cursor is None:
        since = grid_ms - settings.JOURNAL_HISTORY_DAYS * DAY_MS
    else:
        since = cursor.time_msc - int(settings.JOURNAL_DEALS_OVERLAP_S * 1000)
    return _msc(since), _msc(grid_ms + DAY_MS + GRID_MS)


def deals_collect(sender, *, account: TradingAccount, driver: Driver, this_round: dict, **kwargs) -> None:
    """terminals.signals.account_read: read the account's deals past its cursor; kept in
    this_round until its chunk is stored."""
    state = _state(this_round, account.host_id)
    cursor = state.cursors.get(account.pk)
    since, until = window(cursor, state.grid_ms)
    found = driver.deals(since=since, until=until)
    known = cursor.recent if cursor else {}
    new = [d for d in found if str(d.ticket) not in known]
    if new or cursor is None or cursor.time_msc != state.grid_ms:
        state.reads.append(Read(account, cursor, found, new))
    symbols = {d.symbol for d in new if d.type in (DealType.BUY, DealType.SELL)}
    if wanted := sorted(s for s in symbols if (account.pk, s) not in state.digits):
        # The symbol's digits while its terminal is open: pips and slippage are counted in them.
        for info in driver.symbol_infos(wanted):
            state.digits[(account.pk, info.name)] = info.digits


def deals_flush(sender, *, this_round: dict, **kwargs) -> None:
    """terminals.signals.accounts_read_chunk: store the chunk's new deals and move its cursors,
    in one transaction. A failure stores nothing and moves no cursor: the next round reads again."""
    state: RoundState | None = this_round.get(KEY)
    if state is None or not state.reads:
        return
    reads, state.reads = state.reads, []
    with transaction.atomic():
        deals_store([(read.account, read.new) for read in reads if read.new], digits=state.digits)
        _cursors_move(reads, state.grid_ms)


def _cursors_move(reads: list[Read], grid_ms: int) -> None:
    now = timezone.now()
    since_next = grid_ms - int(settings.JOURNAL_DEALS_OVERLAP_S * 1000)
    created, updated = [], []
    for read in reads:
        cursor = read.cursor or DealCursor(account_id=read.account.pk)
        recent = {**cursor.recent, **{str(d.ticket): d.time_msc for d in read.found}}
        # What the next window (from the grid minus the overlap) can still return.
        cursor.recent = {ticket: at for ticket, at in recent.items() if at >= since_next}
        cursor.time_msc, cursor.read_at = grid_ms, now
        cursor.last_ticket = max([cursor.last_ticket, *(d.ticket for d in read.found)])
        (updated if read.cursor else created).append(cursor)
    DealCursor.objects.bulk_create(created, batch_size=500)
    DealCursor.objects.bulk_update(updated, ["time_msc", "last_ticket", "read_at", "recent"], batch_size=500)
