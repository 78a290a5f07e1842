"""The trade journal: ingest of a large history, and what a quiet host round costs.

    python -m bench journal [--quick] [--scaled] [--keep]

In-process, on a throwaway database (SQLite in the run's directory, or with --scaled a fresh
PostgreSQL database, dropped afterwards). Rows:
- ingest: 100,000 deals (50,000 round trips) across 100 accounts in one deals_store call, as the
  host agent stores a 100-account chunk of first reads; deals/s, peak RSS, CPU seconds;
- baseline: the same number of deals inserted by plain bulk_create into the deal table only (no
  attribution, trades or events), on 100 other accounts;
- a repeat store of the stored deals (a restart's re-read): nothing new is written;
- a host round with no new deals over 100 paper accounts: the journal's queries.
Then (bench/journal_api.py) the journal as a trader reads it over 100,000 seeded closed trades:
the API's lists, statistics and the Journal page against GET /auth/status through the same client, each
part of the statistics, and deal on a paper terminal → `deal` event with the host agent's rounds.
"""

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from bench import rows as bench_rows
from bench.journal_api import deal_event_rows, request_rows
from bench.measure import progress
from bench.stack import drop_postgres
from journal.ingest import deal_from
from journal.models import Deal
from journal.services import deals_store
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import Deal as TerminalDeal
from terminals.drivers.base import DealEntry, DealReason, DealType
from terminals.models import TradingAccount
from terminals.services import account_connect, simulated_host

ACCOUNTS = 100
T0 = 1_700_000_000_000


def accounts_of(user: User, first_login: int) -> list[TradingAccount]:
    return [
        TradingAccount.objects.create(owner=user, login=str(first_login + n), server="SimBroker-Demo", currency="USD")
        for n in range(ACCOUNTS)
    ]


def history(accounts: list[TradingAccount], per_account: int) -> list[tuple[TradingAccount, list[TerminalDeal]]]:
    """Round trips: an opening buy and a take-profit close a minute apart, per account."""
    batches, ticket = [], 1
    for account in accounts:
        deals = []
        for k in range(per_account // 2):
            at = T0 + k * 60_000
            deals.append(TerminalDeal(ticket=ticket, order=ticket, position_id=ticket, symbol="EURUSD",
                         type=DealType.BUY, entry=DealEntry.IN, volume=0.1, price=1.1 + k % 97 / 10_000, profit=0.0,
                         magic=0, comment="", time_msc=at))  # fmt: skip
            deals.append(TerminalDeal(ticket=ticket + 1, order=ticket + 1, position_id=ticket, symbol="EURUSD",
                         type=DealType.SELL, entry=DealEntry.OUT, volume=0.1, price=1.101 + k % 97 / 10_000,
                         profit=10.0, magic=0, comment="[tp]", time_msc=at + 30_000, reason=DealReason.TP,
                         commission=-0.35))  # fmt: skip
            ticket += 2
        batches.append((account, deals))
    return batches


def timed(name: str, work: Callable[[], object], deals: int, **extra) -> dict:
    cpu, started = time.process_time(), time.perf_counter()
    work()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    note = f"{seconds:.1f} s wall, {cpu:.1f} s CPU" + (f"; {extra.pop('note')}" if "note" in extra else "")
    return bench_rows.row(name, [seconds * 1000], per_second=deals / seconds, peak_bytes=peak, note=note, **extra)


def quiet_round() -> dict:
    """The journal's queries in a host round that finds no new deal, over 100 paper accounts."""
    owner = User.objects.create(username="bench-round", email="bench-round@example.invalid")
    for n in range(ACCOUNTS):
        account_connect(owner=owner, login=f"86{n:05d}", password="pw", server="SimBroker-Demo", kind="simulated")
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()  # the first read: cursors made
    with CaptureQueriesContext(connection) as queries:
        agent.tick()
    # The heartbeats' equity points (an insert a minute at most) are not the deals' cost.
    sqls = [q["sql"] for q in queries.captured_queries if "journal_equitypoint" not in q["sql"]]
    cursors = [sql for sql in sqls if "journal_" in sql]
    paper = [sql for sql in sqls if "terminals_simdeal" in sql]
    return bench_rows.row(
        f"a host round with no new deals over {ACCOUNTS} paper accounts: journal queries", [],
        note=f"{len(cursors)} journal quer(ies) (the cursors), {len(paper)} of the paper broker's deals, "
        f"{len(queries)} in the whole round",
    )  # fmt: skip


def report(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\npython {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs\n")
    header = f"{'row':<72} {'seconds':>8} {'deals/s':>9} {'peak RSS MB':>11}  note"
    print(header + "\n" + "-" * (len(header) + 30))
    for r in rows:
        seconds = f"{r['median_ms'] / 1000:8.1f}" if r["median_ms"] is not None else f"{'—':>8}"
        rate = f"{r['per_second']:9.0f}" if r["per_second"] else f"{'—':>9}"
        peak = f"{r['peak_mb']:11.0f}" if r["peak_mb"] else f"{'—':>11}"
        print(f"{r['name']:<72} {seconds} {rate} {peak}  {r['note']}")


def report_times(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    header = f"{'row':<86} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        figures = f"{r['n']:>4} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f}"
        print(f"{r['name']:<86} {figures}  {r['note']}")


def run(args, directory: Path, env: dict[str, str]) -> None:
    # As production runs: no query log (with DEBUG on, SQLite re-quotes every parameter of every query).
    settings.DEBUG = False
    settings.API_RATE_LIMIT = "1000000/m"  # the timed reads are one trader's hundreds of requests a minute
    # The Journal page names static files: plain URLs, no collectstatic manifest in a throwaway run.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        measure(args)
    finally:
        if name := env.get("BENCH_JOURNAL_DATABASE"):
            connections.close_all()
            drop_postgres(name)


def measure(args) -> None:
    call_command("migrate", verbosity=0)
    deals = 10_000 if args.quick else 100_000
    user = User.objects.create(username="bench-journal", email="bench-journal@example.invalid")
    accounts, others = accounts_of(user, 10_000), accounts_of(user, 20_000)
    batches = history(accounts, deals // ACCOUNTS)
    label = f"{deals:,} deals / {ACCOUNTS} accounts (one chunk)"
    progress("journal", 0, 4)
    ingest = timed(f"ingest {label}", lambda: deals_store(batches), deals)
    progress("journal", 1, 4)
    plain = [deal_from(account, deal) for account, found in history(others, deals // ACCOUNTS) for deal in found]
    name = "baseline: the same deals by bulk_create into the deal table only"
    note = "no attribution, trades or events"
    baseline = timed(name, lambda: Deal.objects.bulk_create(plain), deals, baseline=True, note=note)
    progress("journal", 2, 4)
    repeat = timed(
        f"repeat store of the {deals:,} stored deals (a restart's re-read)", lambda: deals_store(batches), deals
    )
    progress("journal", 3, 4)
    rows = [baseline, ingest, repeat, quiet_round()]
    progress("journal", 4, 4)
    mode = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite (embedded)"
    title = f"Trade journal ingest on {mode}; baseline: plain bulk_create of the same deals"
    report(title, rows)
    trades = 10_000 if args.quick else 100_000
    reads = request_rows(trades, calls=10 if args.quick else 30)
    reads += deal_event_rows(6 if args.quick else 20, interval_s=2.0 if args.quick else 5.0)
    reads_title = f"Trade journal reads on {mode}; baseline: GET /auth/status through the same client"
    report_times(reads_title, reads)
    bench_rows.export("journal", title, rows)
    bench_rows.export("journal", reads_title, reads)
