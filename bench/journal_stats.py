"""Journal statistics over many closed trades: the figures (what GET /api/v1/stats/ computes),
each breakdown and the P&L calendar, timed in this process against the database Django is set
up with. One trader, 100 accounts in three currencies, a year of trades on five symbols, a
deposit per account and a withdrawal every other month.

`stats_rows(n_trades)` seeds and times on the current database (migrated); `python -m bench
journal` shows these rows in its table of reads."""

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from bench import rows as bench_rows
from bench.measure import progress
from journal import stats
from journal.models import Deal, Trade
from tests.factories import CopyPairFactory, TradingAccountFactory, UserFactory

ACCOUNTS = 100
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30")
STRATEGIES = ("", "breakout", "trend", "scalp", "news")
CURRENCIES = ("USD",) * 7 + ("EUR",) * 2 + ("GBP",)
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
WARMUP = 3


def seed(n_trades: int, *, accounts: int = ACCOUNTS, seed_value: int = 24):
    """A trader with `accounts` accounts sharing `n_trades` closed trades over 2025; returns the trader."""
    rng = random.Random(seed_value)
    owner = UserFactory()
    books = [TradingAccountFactory(owner=owner, currency=CURRENCIES[i % len(CURRENCIES)]) for i in range(accounts)]
    pairs = [
        CopyPairFactory(owner=owner, master=books[i], slave=books[i + 1]) for i in range(0, min(accounts - 1, 20), 2)
    ]
    money, ticket = [], 1
    for book in books:
        money.append(_deal(book, YEAR, Decimal(rng.randrange(5_000, 50_000)), ticket))
        for month in range(2, 13, 2):
            money.append(
                _deal(book, YEAR.replace(month=month, day=15), Decimal(-rng.randrange(100, 900)), ticket + month)
            )
        ticket += 100
    Deal.objects.bulk_create(money, batch_size=2000)
    seconds = 365 * 86_400
    batch: list[Trade] = []
    for n in range(n_trades):
        book = books[n % accounts]
        close = YEAR + timedelta(seconds=rng.randrange(seconds), milliseconds=rng.randrange(1000))
        profit = Decimal(rng.randrange(-30_000, 32_000)) / 100
        commission = Decimal(-rng.randrange(0, 700)) / 100
        pair = pairs[n % len(pairs)] if pairs and n % 3 == 0 else None
        batch.append(_trade(book, n, close, profit, commission, rng, pair))
        if len(batch) == 5000:
            _store(batch)
            batch = []
            progress("seeding trades", n + 1, n_trades)
    _store(batch)
    if connection.vendor == "postgresql":
        # As autovacuum leaves a table in steady use: statistics for the planner, and a visibility
        # map that lets the stats indexes answer without reading the table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE journal_trade")
            cursor.execute("VACUUM ANALYZE journal_deal")
    return owner


def _store(trades: list[Trade]) -> None:
    """The trades and their opening and closing deals (two deals a trade, as ingest stores them)."""
    Trade.objects.bulk_create(trades)
    deals = []
    for t in trades:
        for ticket, at, entry in (
            (t.open_deal * 2 + 10**7, t.open_time, "in"),
            (t.open_deal * 2 + 10**7 + 1, t.close_time, "out"),
        ):
            profit = t.profit if entry == "out" else Decimal("0")
            deals.append(Deal(owner=t.owner, account=t.account, ticket=ticket, time=at, kind=t.side, side=t.side,
                              time_msc=int(at.timestamp() * 1000), entry=entry, symbol=t.symbol,
                              position=t.position, profit=profit, currency=t.currency))  # fmt: skip
    Deal.objects.bulk_create(deals)


def _deal(book, at: datetime, amount: Decimal, ticket: int) -> Deal:
    kind = Deal.Kind.BALANCE
    return Deal(owner=book.owner, account=book, ticket=ticket, time=at, time_msc=int(at.timestamp() * 1000),
                kind=kind, profit=amount, currency=book.currency)  # fmt: skip


def _trade(book, n: int, close: datetime, profit: Decimal, commission: Decimal, rng: random.Random, pair) -> Trade:
    return Trade(
        owner=book.owner, account=book, position=n + 1, open_deal=n + 1, status=Trade.Status.CLOSED,
        symbol=SYMBOLS[rng.randrange(len(SYMBOLS))], side=rng.choice(("buy", "sell")), volume=Decimal("0.10"),
        closed_volume=Decimal("0.10"), open_time=close - timedelta(minutes=rng.randrange(1, 600)),
        open_price=Decimal("1.1"), close_time=close, close_price=Decimal("1.1"), gross_profit=profit - commission,
        commission=commission, profit=profit, currency=book.currency, strategy=rng.choice(STRATEGIES),
        copy_pair=pair,
    )  # fmt: skip


def timed(call: Callable[[], object], calls: int) -> list[float]:
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def stats_rows(n_trades: int = 100_000, *, calls: int = 30, owner=None) -> list[dict]:
    """Times each part of the statistics `calls` times (after a warm-up) over the trades of
    `owner` (seeded with `n_trades` trades when not given): one bench row each."""
    owner = owner or seed(n_trades)
    trades = Trade.objects.owned_by(owner)
    money = Deal.objects.owned_by(owner).filter(kind__in=stats.MONEY_KINDS)
    account = trades.values_list("account", flat=True).first()
    month = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
    parts: list[tuple[str, Callable[[], object]]] = [
        ("figures, all accounts", lambda: stats.figures(trades, money)),
        ("figures, all accounts, June", lambda: stats.figures_between(trades, money, since=month[0], until=month[1])),
        ("figures, one account", lambda: stats.figures(trades.filter(account=account), money.filter(account=account))),
        *((f"breakdown by {by}", lambda by=by: stats.breakdown(trades, by)) for by in stats.BREAKDOWNS),
        ("calendar", lambda: stats.calendar(trades)),
    ]  # fmt: skip
    rows = []
    for done, (name, call) in enumerate(parts, 1):
        rows.append(bench_rows.row(f"stats: {name} ({n_trades:,} trades)", timed(call, calls)))
        progress("timing statistics", done, len(parts))
    return rows
