"""Webhook intake and execution: acknowledgement against /health, received → filled, fan-out.

    python -m bench webhook [--quick] [--scaled]

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

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import rows as bench_rows
from bench.measure import MB, Database, Memory, Usage, stats
from bench.stack import service_stack, sweeps
from bench.webhook_timings import (
    SENDERS,
    SYMBOL,
    VOLUME,
    Fanout,
    Row,
    Signals,
    bench_backlog,
    bench_concurrent,
    bench_e2e,
    bench_fanout,
    bench_health,
    bench_single,
    close_all,
    e2e_rows,
    unfilled_text,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sizes:
    health: int
    single: int
    per_sender: int
    e2e: int
    fanout: dict[int, int]  # accounts per signal → rounds


QUICK = Sizes(health=100, single=100, per_sender=15, e2e=40, fanout={1: 6, 10: 4, 100: 2})
FULL = Sizes(health=500, single=500, per_sender=125, e2e=300, fanout={1: 30, 10: 20, 100: 10})


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


# --- the run ------------------------------------------------------------------------------------


def run(args, directory: Path, env: dict[str, str]) -> None:
    sizes = QUICK if args.quick else FULL
    with service_stack(args, directory, env) as stack:
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
