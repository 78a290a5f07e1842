"""Webhook intake and execution: acknowledgement against /health, received → filled, fan-out.

    python bench/webhook.py [--quick] [--scaled]

Starts the service as `make run` does, as real processes on loopback: one daphne (`python -m
mt5saas.serve`), one qcluster and the simulated host's agent (heartbeats every 5 s as in
`make run`, or --agent-interval), with DEBUG=0, on a throwaway database. By default that is
the embedded defaults (SQLite in WAL mode in a temp dir, ORM broker, in-memory channel
layer, local-memory cache); with --scaled a fresh PostgreSQL database `bench_<random>`
(dropped afterwards) with Redis as broker, channel layer and cache (it refuses to start
while another qcluster reads the queue of that Redis database: they would take each other's
tasks). One trader (`manage.py demo`, which stops at 50 accounts; the same service function
adds the rest) with 100 simulated accounts.

Every signal is 0.01 lots of BTCUSD (it trades at any hour), each to the next account in
turn, so that no account comes near its 100 trades per hour and positions stay few.
Latencies are read from the order's own stamps in the database (created_at when daphne
stores it, sent_at and done_at when the worker claims and finishes it; one clock, this
box), beside what the client sees: send → 202, and send → the order seen final by polling
the database every 2 ms. Signals in the latency rows come after a random pause of 0-200 ms
(many of the ORM broker's 20 ms poll periods), so that they arrive at random moments of its
polling, as alerts do, not in step with it.

Tables on stdout, JSON in bench/results/ (not tracked).
"""

import argparse
import http.client
import itertools
import json
import math
import os
import platform
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import rows as bench_rows  # noqa: E402
from tests.servers import manage, service_env, start, start_daphne, stop  # noqa: E402

SYMBOL, VOLUME = "BTCUSD", 0.01
ACCOUNTS = 100
SENDERS = 8
WARMUP = 10
GAP = 0.2  # random pause before each signal of the latency rows: out of step with the ORM broker's polls
POLL = 0.002  # seconds between reads of the order's status
FINAL = ("filled", "rejected", "failed", "cancelled")
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
MB = 1024 * 1024
# `manage.py demo` stops at 50 accounts; the same service function makes the rest.
MORE_ACCOUNTS = (
    "import json; from accounts.models import User; from terminals.services import demo_accounts; "
    "print(json.dumps(demo_accounts(owner=User.objects.get(username='bench'), count={count})))"
)


@dataclass
class Sizes:
    health: int
    single: int
    per_sender: int
    e2e: int
    fanout: dict[int, int]  # accounts per signal → rounds


QUICK = Sizes(health=100, single=100, per_sender=15, e2e=40, fanout={1: 6, 10: 4, 100: 2})
FULL = Sizes(health=500, single=500, per_sender=125, e2e=300, fanout={1: 30, 10: 20, 100: 10})


@dataclass
class Usage:
    """Of the service's processes during one row, by process group (daphne, qcluster, host_agent)."""

    rss: dict[str, int]  # peak RSS, bytes
    cpu: dict[str, float]  # percent of one core


@dataclass
class Row:
    name: str
    times_ms: list[float]
    per_second: float | None = None
    usage: Usage | None = None
    note: str = ""


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }


def progress(label: str, done: int, total: int) -> None:
    """On a terminal, a counter; under `python -m bench` (BENCH_PROGRESS=1), one line per step for its bar."""
    if os.environ.get("BENCH_PROGRESS"):
        print(f"progress {label}: {done}/{total}", file=sys.stderr, flush=True)
    elif sys.stderr.isatty():
        print(f"\r{label}: {done}/{total}   ", end="" if done < total else "\n", file=sys.stderr, flush=True)


def ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def unfilled_text(unfilled: Counter) -> str:
    """ "2 failed (reason), ..." for orders that did not fill; "" when all did."""
    return "; ".join(f"{n} {status} ({reason[:70]})" for (status, reason), n in unfilled.most_common())


# --- the database, read directly ------------------------------------------------------


class Database:
    """Read-only queries on the service's database ("%s" placeholders on both vendors)."""

    def __init__(self, *, sqlite_path: Path | None = None, url: str = "") -> None:
        if sqlite_path is not None:
            self.connection = sqlite3.connect(sqlite_path, timeout=20, isolation_level=None)
            self.placeholder = "?"
        else:
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
            self.placeholder = "%s"

    def rows(self, sql: str, *params) -> list[tuple]:
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("%s", self.placeholder), params)
        return [tuple(_stamp(value) for value in row) for row in cursor.fetchall()]

    def value(self, sql: str, *params):
        return self.rows(sql, *params)[0][0]

    def close(self) -> None:
        self.connection.close()


def _stamp(value):
    """SQLite returns Django's UTC stamps as text, PostgreSQL as aware datetimes."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def pending_count(db: Database) -> int:
    return db.value("SELECT count(*) FROM terminals_order WHERE status IN ('queued', 'sending')")


def wait_idle(db: Database, label: str, timeout: float = 300) -> float:
    """Wait until no order waits; returns the seconds it took."""
    started = time.perf_counter()
    total = pending_count(db)
    while (left := pending_count(db)) > 0:
        progress(f"{label}: orders executed", total - left, max(total, 1))
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{label}: {left} orders still waiting after {timeout:.0f} s")
        time.sleep(0.1)
    progress(f"{label}: orders executed", total, max(total, 1))
    return time.perf_counter() - started


# --- HTTP and signals ----------------------------------------------------------------


class Client:
    """One keep-alive connection to daphne."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, data, (time.perf_counter() - started) * 1000

    def health(self) -> float:
        status, data, elapsed = self.send("GET", "/health")
        if status != 200:
            raise SystemExit(f"GET /health answered {status}: {data[:300]!r}")
        return elapsed

    def signal(self, path: str, body: bytes) -> tuple[dict, float]:
        status, data, elapsed = self.send("POST", path, body)
        if status != 202:
            raise SystemExit(f"the webhook answered {status}: {data[:300]!r}")
        return json.loads(data), elapsed

    def close(self) -> None:
        self.connection.close()


class Signals:
    """Bodies of BUY/SELL signals, each to the next account in turn unless told which."""

    def __init__(self, path: str, logins: list[str]) -> None:
        self.path, self.logins = path, logins
        self.counter = itertools.count()  # next() is atomic: senders share it

    def body(self, accounts: list[str] | None = None) -> bytes:
        i = next(self.counter)
        action = ("BUY", "SELL")[(i // len(self.logins)) % 2]
        accounts = accounts or [self.logins[i % len(self.logins)]]
        data = {"action": action, "symbol": SYMBOL, "volume": VOLUME, "accounts": accounts, "comment": "bench"}
        return json.dumps(data).encode()


# --- memory ----------------------------------------------------------------------------


class Memory:
    """Samples the service's processes every 0.2 s: RSS peaks per row and overall, and the CPU
    time each used (children included: qcluster forks its workers)."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in processes.items()}
        self.row = dict.fromkeys(self.processes, 0)
        self.overall = dict.fromkeys(self.processes, 0)
        self.counts = dict.fromkeys(self.processes, 1)
        self.cpu: dict[str, dict[int, float]] = {name: {} for name in self.processes}  # last CPU seconds by pid
        self.lock = threading.Lock()
        self.sample()
        self.cpu_start = self.cpu_seconds()
        self.wall_start = time.perf_counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _family(self, name: str) -> list[psutil.Process]:
        process = self.processes[name]
        try:
            return [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        with self.lock:
            for name in self.processes:
                family, rss = self._family(name), 0
                for member in family:
                    try:
                        with member.oneshot():
                            rss += member.memory_info().rss
                            times = member.cpu_times()
                    except psutil.NoSuchProcess:
                        continue
                    self.cpu[name][member.pid] = times.user + times.system
                self.counts[name] = len(family)
                self.row[name] = max(self.row[name], rss)
                self.overall[name] = max(self.overall[name], rss)

    def cpu_seconds(self) -> dict[str, float]:
        return {name: sum(by_pid.values()) for name, by_pid in self.cpu.items()}

    def cpu_share(self) -> dict[str, float]:
        """Percent of one CPU each used since the start (sampled: a fork that lived < 0.2 s is missed)."""
        self.sample()
        wall = time.perf_counter() - self.wall_start
        now = self.cpu_seconds()
        return {name: 100 * (now[name] - self.cpu_start[name]) / wall for name in now}

    def _loop(self) -> None:
        while not self.stopping.wait(0.2):
            self.sample()

    def begin(self) -> None:
        with self.lock:
            self.row = dict.fromkeys(self.processes, 0)
        self.sample()
        with self.lock:
            self.row_cpu, self.row_wall = self.cpu_seconds(), time.perf_counter()

    def end(self) -> Usage:
        self.sample()
        with self.lock:
            wall, now = time.perf_counter() - self.row_wall, self.cpu_seconds()
            return Usage(dict(self.row), {name: 100 * (now[name] - self.row_cpu[name]) / wall for name in now})

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


# --- the rows --------------------------------------------------------------------------


def bench_health(port: int, count: int, memory: Memory) -> Row:
    client = Client(port)
    for _ in range(WARMUP):
        client.health()
    memory.begin()
    times = []
    for i in range(count):
        times.append(client.health())
        progress("GET /health", i + 1, count)
    client.close()
    return Row("GET /health, server idle", times, count / (sum(times) / 1000), memory.end())


def bench_single(port: int, signals: Signals, count: int, memory: Memory) -> tuple[Row, Row]:
    """One sender; each webhook is followed by a GET /health on the same connection, so the
    two rows see the same server, the same worker load and the same moment."""
    client = Client(port)
    for _ in range(WARMUP):
        client.signal(signals.path, signals.body())
        client.health()
    memory.begin()
    acks, healths = [], []
    for i in range(count):
        acks.append(client.signal(signals.path, signals.body())[1])
        healths.append(client.health())
        progress("webhook, 1 sender", i + 1, count)
    client.close()
    usage = memory.end()
    return (
        Row("GET /health, between webhooks", healths, count / (sum(healths) / 1000), usage),
        Row("webhook → 202, 1 sender", acks, count / (sum(acks) / 1000), usage),
    )


def bench_concurrent(ports: list[int], signals: Signals, per_sender: int, memory: Memory) -> tuple[Row, list[int]]:
    """SENDERS threads, each on its own keep-alive connection (spread over the daphne
    processes), as fast as they are answered."""
    clients = [Client(ports[n % len(ports)]) for n in range(SENDERS)]
    for client in clients:
        for _ in range(3):
            client.signal(signals.path, signals.body())
    barrier = threading.Barrier(SENDERS + 1)
    times: list[list[float]] = [[] for _ in range(SENDERS)]
    orders: list[list[int]] = [[] for _ in range(SENDERS)]
    ended = [0.0] * SENDERS
    errors: list[BaseException] = []

    def sender(n: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_sender):
                reply, elapsed = clients[n].signal(signals.path, signals.body())
                times[n].append(elapsed)
                orders[n].extend(o["id"] for o in reply["orders"])
            ended[n] = time.perf_counter()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    memory.begin()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    if errors:
        raise SystemExit(f"a sender failed: {errors[0]!r}")
    wall = max(ended) - started
    flat = [t for row in times for t in row]
    row = Row(f"webhook → 202, {SENDERS} senders", flat, len(flat) / wall, memory.end())
    return row, [o for row in orders for o in row]


def bench_backlog(db: Database, order_ids: list[int], memory: Memory) -> Row:
    """The orders of the 8-sender row, from stored to final, and how fast the worker got through them."""
    memory.begin()
    wait_idle(db, "backlog")
    wanted = set(order_ids)
    rows = db.rows(
        "SELECT id, status, status_reason, created_at, done_at FROM terminals_order WHERE id BETWEEN %s AND %s",
        min(wanted),
        max(wanted),
    )
    stamps = [row[1:] for row in rows if row[0] in wanted]
    times = [ms(created, done) for _, _, created, done in stamps]
    seconds = (max(d for *_, d in stamps) - min(c for *_, c, _ in stamps)).total_seconds()
    unfilled = Counter((status, reason) for status, reason, _, _ in stamps if status != "filled")
    note = f"{len(stamps)} orders" + (f"; not filled: {unfilled_text(unfilled)}" if unfilled else "")
    return Row(f"stored → final, behind the {SENDERS} senders", times, len(stamps) / seconds, memory.end(), note)


def close_all(port: int, signals: Signals, db: Database) -> None:
    """Positions back to none on every account, so the latency rows start from the same state."""
    client = Client(port)
    client.signal(signals.path, json.dumps({"action": "CLOSE_ALL", "comment": "bench"}).encode())
    client.close()
    wait_idle(db, "CLOSE_ALL")


@dataclass
class Trace:
    stored: float  # done_at - created_at
    queued: float | None  # sent_at - created_at: commit, broker, worker pick-up, lease
    executed: float | None  # done_at - sent_at: preparation, terminal, final write
    ack: float  # client: send → 202
    seen: float  # client: send → the order read as final
    status: str
    reason: str


def await_orders(db: Database, signal_id: int, count: int, started: float, timeout: float = 120) -> float:
    """Seconds from `started` until all the signal's orders are final."""
    while True:
        final = db.value(
            "SELECT count(*) FROM terminals_order WHERE signal_id = %s AND status IN (%s, %s, %s, %s)",
            signal_id,
            *FINAL,
        )
        now = time.perf_counter()
        if final >= count:
            return now - started
        if now - started > timeout:
            raise SystemExit(f"signal {signal_id}: {final} of {count} orders final after {timeout:.0f} s")
        time.sleep(POLL)


def bench_e2e(port: int, signals: Signals, db: Database, count: int, memory: Memory) -> tuple[list[Trace], Usage]:
    client = Client(port)
    traces = []
    for i in range(-5, count):  # five warm-up signals
        if i == 0:
            memory.begin()
        time.sleep(random.uniform(0, GAP))
        started = time.perf_counter()
        reply, ack = client.signal(signals.path, signals.body())
        seen = await_orders(db, reply["signal"], 1, started)
        ((status, reason, created, sent, done),) = db.rows(
            "SELECT status, status_reason, created_at, sent_at, done_at FROM terminals_order WHERE id = %s",
            reply["orders"][0]["id"],
        )
        if i >= 0:
            queued = ms(created, sent) if sent else None
            executed = ms(sent, done) if sent else None
            traces.append(Trace(ms(created, done), queued, executed, ack, seen * 1000, status, reason))
            progress("received → filled", i + 1, count)
    client.close()
    return traces, memory.end()


@dataclass
class Fanout:
    accounts: int
    ack: list[float]
    seen: list[float]  # send → all orders final, client
    stored: list[float]  # last done_at - first created_at
    unfilled: Counter
    usage: Usage


def bench_fanout(port: int, signals: Signals, db: Database, sizes: dict[int, int], memory: Memory) -> list[Fanout]:
    client = Client(port)
    results = []
    for accounts, rounds in sizes.items():
        memory.begin()
        acks, seen, stored, unfilled = [], [], [], Counter()
        for r in range(rounds):
            start_at = (r * accounts) % len(signals.logins)
            chosen = (signals.logins * 2)[start_at : start_at + accounts]
            time.sleep(random.uniform(0, GAP))
            started = time.perf_counter()
            reply, ack = client.signal(signals.path, signals.body(chosen))
            elapsed = await_orders(db, reply["signal"], accounts, started)
            rows = db.rows(
                "SELECT status, status_reason, created_at, done_at FROM terminals_order WHERE signal_id = %s",
                reply["signal"],
            )
            acks.append(ack)
            seen.append(elapsed * 1000)
            stored.append(ms(min(c for *_, c, _ in rows), max(d for *_, d in rows)))
            unfilled.update((status, reason) for status, reason, _, _ in rows if status != "filled")
            progress(f"fan-out to {accounts}", r + 1, rounds)
        results.append(Fanout(accounts, acks, seen, stored, unfilled, memory.end()))
    client.close()
    return results


# --- setting up and tearing down ----------------------------------------------------------


def create_postgres(prefix: str = "bench") -> str:
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_postgres(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def refuse_shared_queue(redis_url: str) -> None:
    """Every qcluster on one Redis database reads the same queue (django_q:mt5saas:q): another
    one would take this bench's tasks (and drop them: another SECRET_KEY), and this bench would
    take its tasks."""
    others = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            qcluster = "qcluster" in " ".join(process.info["cmdline"] or [])
            if qcluster and process.environ().get("REDIS_URL") == redis_url:
                others.append(process.info["pid"])
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    if others:
        raise SystemExit(
            f"{len(others)} other qcluster process(es) use {redis_url} (pids {others[:5]}) and would share this "
            "bench's task queue: pass --redis-url with another database number, e.g. redis://127.0.0.1:6379/9"
        )


def checked(result, what: str):
    if result.returncode != 0:
        raise SystemExit(f"{what} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


def prepare(env: dict[str, str], accounts: int = ACCOUNTS, sqlite_path: Path | None = None) -> dict:
    """Migrate, then the trader and `accounts` simulated accounts; returns demo's JSON with all logins.

    Under `python -m bench` (BENCH_SQLITE_TEMPLATE), a SQLite database is migrated once per
    run: the later areas start from a copy of the first one's freshly migrated file."""
    template = Path(os.environ.get("BENCH_SQLITE_TEMPLATE", "")) if sqlite_path else None
    if template and template.name and template.exists():
        shutil.copyfile(template, sqlite_path)
    else:
        checked(manage("migrate", "--noinput", env=env), "migrate")
        if template and template.name:
            shutil.copyfile(sqlite_path, template)
    first = str(min(50, accounts))
    demo = json.loads(checked(manage("demo", "--user", "bench", "--accounts", first, "--json", env=env), "demo").stdout)
    if accounts > 50:
        more = checked(manage("shell", "-c", MORE_ACCOUNTS.format(count=accounts), env=env), "more accounts")
        demo["accounts"] = json.loads(more.stdout.strip().splitlines()[-1])
    return demo


def sweeps(agent_log: Path) -> int:
    """Orders the host agent's sweep executed itself: the queue had not delivered them in time."""
    marker = "order(s) waited too long for the queue"
    return sum(int(line.split(marker)[0].split()[-1]) for line in agent_log.read_text().splitlines() if marker in line)


def wait_healthy(port: int, processes: dict[str, tuple], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    status, data = 0, b""
    while time.monotonic() < deadline:
        for name, (process, log) in processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited:\n{log.read_text()[-3000:]}")
        try:
            client = Client(port)
            status, data, _ = client.send("GET", "/health")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"/health did not become 200 within {timeout:.0f} s: {status} {data[:500]!r}")


# --- the report -----------------------------------------------------------------------------


USAGE_HEADER = f"{'daphne MB':>9} {'qcluster MB':>11} {'daphne CPU':>10} {'qcluster CPU':>12}"


def group_total(values: dict[str, float], group: str) -> float:
    """daphne, qcluster: summed over the scaled stack's two of each."""
    return sum(value for name, value in values.items() if name.split("-")[0] == group)


def usage_text(usage: Usage) -> str:
    rss, cpu = usage.rss, usage.cpu
    daphne_mb, cluster_mb = group_total(rss, "daphne") / MB, group_total(rss, "qcluster") / MB
    return (
        f"{daphne_mb:>9.1f} {cluster_mb:>11.1f} {group_total(cpu, 'daphne'):>9.0f}% "
        f"{group_total(cpu, 'qcluster'):>11.0f}%"
    )


def print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    header = f"{'':<42} {'n':>5} {'median ms':>9} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per s':>7}"
    print(f"{header} {USAGE_HEADER}  note")
    print("-" * (len(header) + len(USAGE_HEADER) + 8))
    for row in rows:
        s = stats(row.times_ms)
        rate = f"{row.per_second:>7.1f}" if row.per_second else f"{'—':>7}"
        print(
            f"{row.name:<42} {s['n']:>5} {s['median']:>9.2f} {s['p95']:>8.2f} {s['p99']:>8.2f} {s['max']:>8.2f} "
            f"{rate} {usage_text(row.usage)}  {row.note}"
        )


def print_fanout(results: list[Fanout]) -> None:
    print("\nFan-out: one signal to N accounts of one trader, until every order is final")
    header = (
        f"{'accounts':>8} {'signals':>7} {'202 median ms':>13} {'final median ms':>15} {'p95 ms':>8} {'max ms':>8}"
        f" {'stored median ms':>16} {'orders/s':>8}"
    )
    print(f"{header} {USAGE_HEADER}  note")
    print("-" * (len(header) + len(USAGE_HEADER) + 8))
    for r in results:
        seen = stats(r.seen)
        rate = r.accounts / (seen["median"] / 1000)
        note = f"not filled: {unfilled_text(r.unfilled)}" if r.unfilled else "all filled"
        print(
            f"{r.accounts:>8} {len(r.seen):>7} {statistics.median(r.ack):>13.2f} {seen['median']:>15.1f} "
            f"{seen['p95']:>8.1f} {seen['max']:>8.1f} {statistics.median(r.stored):>16.1f} {rate:>8.1f} "
            f"{usage_text(r.usage)}  {note}"
        )
    print("final: client, send → all orders read final; stored: last done_at - first created_at")


def report(
    mode: str, scaled: bool, rows: dict[str, Row], e2e: list[Row], fanout: list[Fanout], memory, load, accounts: int
) -> dict:
    health, between, single, many = rows["health"], rows["between"], rows["single"], rows["many"]
    print(
        f"\nWebhook bench, {mode}: {accounts} simulated accounts, {VOLUME} {SYMBOL} per order\n"
        f"python {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs, "
        f"load average {load[0][0]:.2f} before, {load[1][0]:.2f} after"
    )
    print_rows(
        "Acknowledgement: POST /webhook/<token> → 202 against GET /health, same daphne, keep-alive",
        [health, between, single, many],
    )
    ratio = statistics.median(single.times_ms) / statistics.median(between.times_ms)
    idle_ratio = statistics.median(single.times_ms) / statistics.median(health.times_ms)
    ack_p99 = max(stats(single.times_ms)["p99"], stats(many.times_ms)["p99"])
    print(
        f"webhook p50 / /health p50: {ratio:.2f}x (against /health between webhooks), {idle_ratio:.2f}x "
        f"(against idle /health); target ≤ 1.5x.  webhook p99: {stats(single.times_ms)['p99']:.1f} ms "
        f"(1 sender), {stats(many.times_ms)['p99']:.1f} ms ({SENDERS} senders)"
    )
    print_rows("Webhook received → filled, one account per signal, 0-200 ms between signals", e2e)
    target = "30" if scaled else "100"
    print(f"received → filled p50: {statistics.median(e2e[0].times_ms):.1f} ms (target < {target} ms)")
    print_fanout(fanout)
    print("\nProcesses over the whole run (qcluster: its processes summed)")
    share = memory.cpu_share()
    for name, peak in memory.overall.items():
        print(
            f"  {name:<10} peak RSS {peak / MB:7.1f} MB, CPU {share[name]:5.1f}% of one core "
            f"({memory.counts[name]} process(es))"
        )
    return {
        "ratio_ack_to_health_p50": ratio,
        "ratio_ack_to_idle_health_p50": idle_ratio,
        "ack_p99_ms": ack_p99,
        "e2e_p50_ms": statistics.median(e2e[0].times_ms),
    }


def save(mode_key: str, mode: str, sizes: Sizes, rows, e2e, fanout, memory, summary, load, quick: bool) -> Path:
    def row_json(row: Row) -> dict:
        return {
            "name": row.name,
            **stats(row.times_ms),
            "per_second": row.per_second,
            "usage": asdict(row.usage),
            "note": row.note,
        }

    data = {
        "bench": "webhook",
        "mode": mode_key,
        "description": mode,
        "quick": quick,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": {"before": load[0], "after": load[1]},
        "sizes": asdict(sizes),
        "summary": summary,
        "acknowledgement": [row_json(r) for r in rows.values()],
        "end_to_end": [row_json(r) for r in e2e],
        "fanout": [
            {
                "accounts": r.accounts,
                "ack_ms": stats(r.ack),
                "final_ms": stats(r.seen),
                "stored_ms": stats(r.stored),
                "unfilled": unfilled_text(r.unfilled),
                "usage": asdict(r.usage),
            }
            for r in fanout
        ],
        "peak_rss": memory.overall,
        "cpu_percent_of_one_core": memory.cpu_share(),
        "processes": memory.counts,
    }
    directory = ROOT / "bench" / "results"
    directory.mkdir(exist_ok=True)
    path = directory / f"webhook-{mode_key}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def export_rows(mode: str, rows: dict[str, Row], e2e: list[Row], fanout: list[Fanout]) -> None:
    """The rows for `python -m bench`; peak memory: daphne and qcluster processes together."""

    def peak(usage: Usage) -> int:
        return int(group_total(usage.rss, "daphne") + group_total(usage.rss, "qcluster"))

    def one(row: Row, baseline: bool = False) -> dict:
        return bench_rows.row(
            row.name, row.times_ms, per_second=row.per_second, peak_bytes=peak(row.usage), baseline=baseline,
            note=row.note,
        )  # fmt: skip

    ack = [one(rows["health"], True), one(rows["between"], True), one(rows["single"]), one(rows["many"])]
    bench_rows.export("webhook", f"Webhook acknowledgement, {mode}", ack)
    bench_rows.export(
        "end-to-end", f"Webhook received → filled, {mode}", [one(rows["health"], True)] + [one(r) for r in e2e]
    )
    fan = [
        bench_rows.row(
            f"fan-out to {r.accounts}: send → all final",
            r.seen,
            per_second=r.accounts / (statistics.median(r.seen) / 1000),
            peak_bytes=peak(r.usage),
            note=unfilled_text(r.unfilled) or "all filled",
        )
        for r in fanout
    ]
    bench_rows.export(
        "fan-out", f"Fan-out (orders/s: accounts per signal / median), {mode}", [one(rows["health"], True), *fan]
    )


# --- main ------------------------------------------------------------------------------------


def e2e_rows(traces: list[Trace], usage: Usage) -> list[Row]:
    unfilled = Counter((t.status, t.reason) for t in traces if t.status != "filled")
    note = f"not filled: {unfilled_text(unfilled)}" if unfilled else ""
    return [
        Row("stored: done_at - created_at", [t.stored for t in traces], None, usage, note),
        Row("  of which created → sent (queue)", [t.queued for t in traces if t.queued is not None], None, usage),
        Row("  of which sent → done (execution)", [t.executed for t in traces if t.executed is not None], None, usage),
        Row("client: send → 202", [t.ack for t in traces], None, usage),
        Row("client: send → seen final (2 ms polls)", [t.seen for t in traces], None, usage),
    ]


@dataclass
class Stack:
    """The service started as `make run` starts it, for one bench run."""

    env: dict[str, str]
    demo: dict  # `manage.py demo --json`: the trader, its webhook URL and accounts
    port: int
    ports: list[int]  # every daphne's (two on the scaled stack); `port` is the first
    processes: dict[str, tuple]  # name → (Popen, log path)
    mode: str
    mode_key: str
    database_url: str  # PostgreSQL's, or "" for the SQLite file
    sqlite_path: Path

    def check_alive(self) -> None:
        for name, (process, log) in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited during the run:\n{log.read_text()[-3000:]}")


def stack_rss(stack: Stack) -> int:
    """RSS of the daphne and qcluster processes (with the qclusters' workers) right now."""
    total = 0
    for name, (process, _) in stack.processes.items():
        if name.split("-")[0] not in ("daphne", "qcluster"):
            continue
        try:
            family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    return total


def health_times(port: int, count: int) -> list[float]:
    """Bare GET /health on one keep-alive connection: the same-run baseline of a bench."""
    client = Client(port)
    for _ in range(WARMUP):
        client.health()
    times = []
    for i in range(count):
        times.append(client.health())
        progress("GET /health (baseline)", i + 1, count)
    client.close()
    return times


@contextmanager
def service_stack(args, directory: Path) -> Iterator[Stack]:
    """daphne, a qcluster and the host agent on a throwaway database (a fresh PostgreSQL one
    with Redis for --scaled), with the demo trader; process logs are shown if the run fails,
    and everything is stopped and dropped afterwards."""
    keys = {"SECRET_KEY": "bench-" + secrets.token_urlsafe(40), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    overrides = {**keys, "WEBHOOK_RATE_LIMIT": "1000000/m", "API_RATE_LIMIT": "1000000/m"}
    database_name, url = "", ""
    sqlite_path = directory / "bench.sqlite3"
    if args.scaled:
        refuse_shared_queue(args.redis_url)
        database_name = create_postgres(args.database_prefix)
        url = f"{POSTGRES}/{database_name}"
        env = service_env(DATABASE_URL=url, REDIS_URL=args.redis_url, **overrides)
        mode, mode_key = "PostgreSQL + Redis, 2 daphne on 2 ports, 2 qclusters", "postgres-redis"
    else:
        # A SQLite DATABASE_URL keeps the embedded options (WAL, IMMEDIATE, a connection per request).
        env = service_env(DATABASE_URL=f"sqlite:///{sqlite_path}", REDIS_URL="", **overrides)
        mode, mode_key = "embedded defaults (SQLite WAL, ORM broker, in-memory channel layer)", "sqlite"
    mode += f"; host agent every {args.agent_interval:g} s"
    processes: dict[str, tuple] = {}
    try:
        print(f"setting up: {mode}", file=sys.stderr)
        setup_started = time.perf_counter()
        demo = prepare(env, getattr(args, "accounts", ACCOUNTS), None if args.scaled else sqlite_path)
        # The scaled stack: two daphne processes on two ports and two qclusters on one queue.
        copies = ("", "-2") if args.scaled else ("",)
        ports = []
        for suffix in copies:
            log = directory / f"daphne{suffix}.log"
            daphne, base = start_daphne(env, log)
            processes[f"daphne{suffix}"] = (daphne, log)
            ports.append(urlsplit(base).port)
        for suffix in copies:
            log = directory / f"qcluster{suffix}.log"
            processes[f"qcluster{suffix}"] = (start(["manage.py", "qcluster"], env, log), log)
        log = directory / "host_agent.log"
        agent = start(["manage.py", "host_agent", "--interval", str(args.agent_interval)], env, log)
        processes["host_agent"] = (agent, log)
        wait_healthy(ports[0], processes)
        print(f"set up in {time.perf_counter() - setup_started:.0f} s", file=sys.stderr)
        yield Stack(env, demo, ports[0], ports, processes, mode, mode_key, url, sqlite_path)
    except SystemExit:
        for name, (_, log) in processes.items():
            print(f"\n--- {name} log (tail) ---\n{log.read_text()[-1500:]}", file=sys.stderr)
        raise
    finally:
        for process, _ in processes.values():
            stop(process)
        if database_name:
            drop_postgres(database_name)


def run(args, directory: Path) -> None:
    sizes = QUICK if args.quick else FULL
    with service_stack(args, directory) as stack:
        port = stack.port
        logins = [a["login"] for a in stack.demo["accounts"]]
        path = urlsplit(stack.demo["webhook_url"]).path
        db = Database(url=stack.database_url) if args.scaled else Database(sqlite_path=stack.sqlite_path)
        memory = Memory({name: process.pid for name, (process, _) in stack.processes.items()})
        try:
            load_before = os.getloadavg()
            signals = Signals(path, logins)

            rows = {"health": bench_health(port, sizes.health, memory)}
            rows["between"], rows["single"] = bench_single(port, signals, sizes.single, memory)
            rows["many"], order_ids = bench_concurrent(stack.ports, signals, sizes.per_sender, memory)
            backlog = bench_backlog(db, order_ids, memory)
            close_all(port, signals, db)
            traces, usage = bench_e2e(port, signals, db, sizes.e2e, memory)
            e2e = [*e2e_rows(traces, usage), backlog]
            # Fewer accounts (--accounts): the widest fan-out is to all of them.
            widths = {min(width, len(logins)): rounds for width, rounds in sizes.fanout.items()}
            fanout = bench_fanout(port, signals, db, widths, memory)
            load = (load_before, os.getloadavg())
            stack.check_alive()
            summary = report(stack.mode, args.scaled, rows, e2e, fanout, memory, load, len(logins))
            summary["swept_orders"] = swept = sweeps(stack.processes["host_agent"][1])
            print(f"  orders the host agent's sweep executed because the queue had not: {swept}")
            export_rows(stack.mode, rows, e2e, fanout)
            saved = save(stack.mode_key, stack.mode, sizes, rows, e2e, fanout, memory, summary, load, args.quick)
            print(f"\nresults: {saved.relative_to(ROOT)}")
        finally:
            memory.stop()
            db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples: about two minutes")
    parser.add_argument("--scaled", action="store_true", help="PostgreSQL + Redis instead of the embedded defaults")
    parser.add_argument("--redis-url", default=REDIS, help=f"with --scaled (default {REDIS})")
    parser.add_argument("--database-prefix", default="bench", help="with --scaled: prefix of the throwaway database")
    parser.add_argument(
        "--agent-interval", type=float, default=5.0, help="host agent heartbeat, s (default 5, as `make run`)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, process logs)")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS, help=f"simulated accounts (default {ACCOUNTS})")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.keep:
        directory = tempfile.mkdtemp(prefix="mt5saas-bench-")
        print(f"kept: {directory}", file=sys.stderr)
        run(args, Path(directory))
    else:
        with tempfile.TemporaryDirectory(prefix="mt5saas-bench-") as directory:
            run(args, Path(directory))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
