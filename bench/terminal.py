"""Order latency and memory of the MetaTrader5 path: bare module call, driver, session process.

    python -m bench terminal [--orders N] [--quick]

Runs on Linux against the fake MetaTrader5 module (tests/fakes), whose engine is the
simulated paper broker on a throwaway SQLite database, so the absolute times are the paper
broker's, not a terminal's: what to read is the overhead the driver and the session add to
the same bare call in the same run, and what a session process costs in memory. Every row
sends market orders for 0.01 BTCUSD (it trades at any hour), alternating buy and sell on a
netting paper account so the broker's state stays one position deep. Loopback only.
"""

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from django.core.management import call_command

from bench import rows as bench_rows
from bench.measure import progress
from bench.rows import percentile
from mt5saas.crypto import encrypt
from terminals.drivers.base import OrderRequest, TradeAction
from terminals.models import SimAccount
from terminals.sessions.directory import SessionDirectory, directory_session
from terminals.sessions.protocol import SessionSpec
from terminals.sessions.registry import SessionRegistry, start_session
from tests.fakes.mt5_env import FAKES, fake_mt5, mt5_driver

SERVER = "SimBroker-Demo"
PASSWORD = "bench-pass"
WARMUP = 10
SAMPLE_EVERY = 25  # orders between memory samples, taken outside the timed calls
MB = 1024 * 1024


@dataclass
class Row:
    name: str
    times_ms: list[float]
    seconds: float
    peak_rss: int  # of the process that runs the MetaTrader5 module


def netting(login: int) -> None:
    SimAccount.objects.filter(server=SERVER, login=login).update(hedging=False)


def timed_row(name: str, send: Callable[[int], int], orders: int, rss: Callable[[], int]) -> Row:
    """send(i) places order i and returns its retcode."""
    for i in range(WARMUP):
        send(i)
    times, peak = [], rss()
    started = time.perf_counter()
    for i in range(orders):
        before = time.perf_counter()
        retcode = send(i)
        times.append((time.perf_counter() - before) * 1000)
        if retcode != 10009:
            raise SystemExit(f"{name}: order {i} answered {retcode}")
        if i % SAMPLE_EVERY == 0:
            progress(name, i, orders)
            peak = max(peak, rss())
    seconds = time.perf_counter() - started
    progress(name, orders, orders)
    return Row(name, times, seconds, max(peak, rss()))


def bench_bare(orders: int) -> Row:
    mt5 = fake_mt5()
    mt5._reset()
    assert mt5.initialize(login=9001, password=PASSWORD, server=SERVER), mt5.last_error()
    netting(9001)

    def send(i: int) -> int:
        request = {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": "BTCUSD",
            "volume": 0.01,
            "type": i % 2,
            "deviation": 20,
            "type_filling": mt5.ORDER_FILLING_FOK,
            "type_time": mt5.ORDER_TIME_GTC,
            "comment": f"bench-{i}",
        }
        return mt5.order_send(request).retcode

    return timed_row("MetaTrader5.order_send (bare)", send, orders, rss_of(os.getpid()))


def order(i: int):
    return OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", type=i % 2, volume=0.01, comment=f"bench-{i}")


def bench_driver(orders: int) -> Row:
    driver = mt5_driver(login=9002, password=PASSWORD, server=SERVER)
    netting(9002)
    return timed_row(
        "MetaTrader5Driver.order_send", lambda i: driver.order_send(order(i)).retcode, orders, rss_of(os.getpid())
    )


def rss_of(pid: int) -> Callable[[], int]:
    process = psutil.Process(pid)
    return lambda: process.memory_info().rss


def session_spec(login: int):
    return SessionSpec(
        driver="terminals.drivers.mt5.MetaTrader5Driver",
        login=login,
        server=SERVER,
        password=encrypt(PASSWORD),
        sys_path=(FAKES,),
    )


def bench_session(orders: int) -> tuple[Row, int]:
    """The row, and the session's RSS right after it attached."""
    session = start_session(session_spec(9003))
    try:
        attached = psutil.Process(session.pid).memory_info().rss
        netting(9003)
        row = timed_row(
            "SessionClient → session → driver",
            lambda i: session.client.order_send(order(i)).retcode,
            orders,
            rss_of(session.pid),
        )
    finally:
        session.stop()
    return row, attached


def bench_directory(orders: int) -> Row:
    """As a qcluster worker reaches an MT5 account: each drain asks the host agent's session
    directory for the session (a loopback handshake) and sends through it; here every order
    is its own drain, the worst case."""
    queue = f"bench-{os.getpid()}"  # the directory's address file in var/ is this run's own
    registry = SessionRegistry(lambda account_id: session_spec(9004))
    with SessionDirectory(registry, queue):
        try:
            directory_session(queue, 1).account_info()  # the session starts here, outside the timing
            netting(9004)

            def send(i: int) -> int:
                client = directory_session(queue, 1)
                try:
                    return client.order_send(order(i)).retcode
                finally:
                    client.shutdown()

            return timed_row("worker: directory → session → driver", send, orders, rss_of(registry.session(1).pid))
        finally:
            registry.stop_all()


def five_sessions() -> tuple[int, int]:
    """Total RSS and USS of five attached sessions (USS: pages no other process shares)."""
    sessions = [start_session(session_spec(9100 + n)) for n in range(5)]
    try:
        for session in sessions:
            session.client.account_info()
        memory = [psutil.Process(s.pid).memory_full_info() for s in sessions]
    finally:
        for session in sessions:
            session.stop()
    return sum(m.rss for m in memory), sum(m.uss for m in memory)


def report(rows: list[Row], orders: int, attached: int, five: tuple[int, int]) -> None:
    bare = statistics.median(rows[0].times_ms)
    print(
        f"\nMetaTrader5 order path: {orders} market orders per row (+{WARMUP} warm-up), fake MetaTrader5 on the "
        f"paper broker, SQLite\npython {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs\n"
    )
    header = f"{'path':<34} {'median ms':>9} {'p95 ms':>8} {'p99 ms':>8} {'orders/s':>9} {'overhead (median)':>19}"
    print(f"{header} {'peak RSS MB':>11}")
    print("-" * (len(header) + 12))
    for row in rows:
        ordered = sorted(row.times_ms)
        median = statistics.median(ordered)
        overhead = "—" if row is rows[0] else f"{median - bare:+.3f} ms ({(median - bare) / bare:+.0%})"
        print(
            f"{row.name:<34} {median:>9.3f} {percentile(ordered, 95):>8.3f} {percentile(ordered, 99):>8.3f} "
            f"{orders / row.seconds:>9.0f} {overhead:>19} {row.peak_rss / MB:>11.1f}"
        )
    print("\npeak RSS: the process running the MetaTrader5 module (the bench itself, or the session process)")
    print("a worker's drain pays the directory row's handshake once, then sends its orders through the session")
    print("\nmemory of session processes (each: Python + Django + driver + MetaTrader5 module)")
    print(f"  one session, just attached          {attached / MB:7.1f} MB RSS")
    print(f"  one session, after the run          {rows[2].peak_rss / MB:7.1f} MB RSS (peak)")
    print(f"  5 sessions, attached                {five[0] / MB:7.1f} MB RSS, {five[1] / MB:.1f} MB USS")
    print(f"  this bench process, for comparison  {psutil.Process().memory_info().rss / MB:7.1f} MB RSS")


def run(args, directory: Path, env: dict[str, str]) -> None:
    """`env` names a throwaway database in `directory`: the session processes inherit it."""
    orders = 100 if args.quick else args.orders
    call_command("migrate", verbosity=0)
    rows = [bench_bare(orders), bench_driver(orders)]
    session_row, attached = bench_session(orders)
    rows.append(session_row)
    rows.append(bench_directory(orders))
    five = five_sessions()
    report(rows, orders, attached, five)
    bench_rows.export(
        "terminal",
        "MetaTrader5 order path (fake module on the paper broker); baseline: the bare module call",
        [
            bench_rows.row(r.name, r.times_ms, per_second=orders / r.seconds, peak_bytes=r.peak_rss, baseline=i == 0)
            for i, r in enumerate(rows)
        ]
        + [bench_rows.row("5 session processes attached (memory)", [], peak_bytes=five[0], note="RSS, summed")],
    )
