"""The webhook area's timed rows: acknowledgement, received → filled and fan-out, each timed
by the client and by the order's own stamps in the database."""

import itertools
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from bench.measure import WARMUP, Client, Database, Memory, Usage, health_times, ms, progress, wait_idle

SYMBOL, VOLUME = "BTCUSD", 0.01
SENDERS = 8
GAP = 0.2  # random pause before each signal of the latency rows: out of step with the ORM broker's polls
POLL = 0.002  # seconds between reads of the order's status
FINAL = ("filled", "rejected", "failed", "cancelled")


@dataclass
class Row:
    name: str
    times_ms: list[float]
    per_second: float | None = None
    usage: Usage | None = None
    note: str = ""


def unfilled_text(unfilled: Counter) -> str:
    """ "2 failed (reason), ..." for orders that did not fill; "" when all did."""
    return "; ".join(f"{n} {status} ({reason[:70]})" for (status, reason), n in unfilled.most_common())


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


def bench_health(port: int, count: int, memory: Memory) -> Row:
    times = health_times(port, count, label="GET /health", memory=memory)
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
