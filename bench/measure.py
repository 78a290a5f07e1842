"""What the benches measure with, none of it Django: statistics, a keep-alive HTTP client, direct
reads of the service's database, and the memory and CPU of the service's processes."""

import http.client
import json
import os
import sqlite3
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.rows import percentile

WARMUP = 10
MB = 1024 * 1024


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


# --- HTTP ------------------------------------------------------------------------------


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


def health_times(
    port: int, count: int, *, label: str = "GET /health (baseline)", memory: "Memory | None" = None
) -> list[float]:
    """Bare GET /health on one keep-alive connection: the same-run baseline of a bench. With
    `memory` (a Memory), its watch begins once the connection is warm."""
    client = Client(port)
    for _ in range(WARMUP):
        client.health()
    if memory is not None:
        memory.begin()
    times = []
    for i in range(count):
        times.append(client.health())
        progress(label, i + 1, count)
    client.close()
    return times



# --- memory ----------------------------------------------------------------------------


@dataclass
class Usage:
    """Of the service's processes during one row, by process group (daphne, qcluster, host_agent)."""

    rss: dict[str, int]  # peak RSS, bytes
    cpu: dict[str, float]  # percent of one core


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
