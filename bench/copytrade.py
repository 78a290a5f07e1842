"""Copy trading: master event received → slave filled for 1, 10 and 50 slaves, and the
host-side watcher's detection time.

    python -m bench copy [--quick] [--scaled]

Starts the service as the webhook area does (bench/stack.py: one daphne, one qcluster, the simulated host's
agent, DEBUG=0, a throwaway database: SQLite by default, PostgreSQL + Redis with --scaled),
with one trader and 100 simulated accounts. Account 1 is the master; pairs to accounts 2..51
are created, and for each row only N of them are on.

Fan-out rows: a master event `deal_add` of 0.01 BTCUSD (it trades at any hour) is POSTed to
/api/copy/trade with the pair's key, then the master closes it (`deal_close`) before the
next round. Latency per slave order: from the event's received_at (every copied order
carries it as created_at) to the order's done_at, both stamped by the service on one
clock; and, as the client sees it, send → every slave order read final (polls every 2 ms).
Rounds start after a random 0-200 ms pause, out of step with the ORM broker's polling.

Watcher row: a trade is made on the master's simulated terminal itself (no EA, no API);
detection is from the deal's time on the terminal to the copy event the host agent created.

Tables on stdout, JSON in bench/results/ (not tracked).
"""

import json
import os
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import connections

from bench import rows as bench_rows
from bench.measure import Client, health_times, progress, stats
from bench.stack import service_stack, stack_rss
from copytrading.models import CopyEvent, CopyPair
from copytrading.services import pair_create
from terminals.drivers.base import OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import Order, TradingAccount

ROOT = Path(__file__).resolve().parents[1]

SLAVES = (1, 10, 50)
GAP = 0.2
POLL = 0.002
SYMBOL, VOLUME = "BTCUSD", 0.01


@dataclass
class Sizes:
    rounds: dict[int, int]  # slaves → rounds
    watcher: int


QUICK = Sizes(rounds={1: 12, 10: 5, 50: 3}, watcher=4)
FULL = Sizes(rounds={1: 100, 10: 30, 50: 10}, watcher=12)


@dataclass
class FanoutRow:
    slaves: int
    stored: list[float] = field(default_factory=list)  # per slave order: received → done, ms
    queued: list[float] = field(default_factory=list)  # per slave order: received → committed and queued, ms
    claimed: list[float] = field(default_factory=list)  # per slave order: received → claimed by a drain, ms
    seen: list[float] = field(default_factory=list)  # per event: send → all final, ms
    ack: list[float] = field(default_factory=list)  # per event: send → reply, ms
    unfilled: dict[str, int] = field(default_factory=dict)


def post_event(client: Client, key: str, body: dict) -> tuple[dict, float]:
    data = json.dumps({"api_key": key, **body}).encode()
    status, reply, elapsed = client.send("POST", "/api/copy/trade", data)
    if status != 200:
        raise SystemExit(f"/api/copy/trade answered {status}: {reply[:300]!r}")
    return json.loads(reply), elapsed


def wait_final(event_id: int, count: int, started: float, timeout: float = 60) -> float:
    while True:
        orders = Order.objects.filter(copy_execution__event_id=event_id)
        if orders.filter(status__in=Order.FINAL).count() >= count:
            return (time.perf_counter() - started) * 1000
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"event {event_id}: its {count} slave orders are not final after {timeout:.0f} s")
        time.sleep(POLL)


def bench_fanout(port: int, master, key: str, sizes: Sizes) -> list[FanoutRow]:
    client = Client(port)
    rows = []
    pairs = list(CopyPair.objects.filter(master=master).order_by("pk"))
    for slaves, rounds in sizes.rounds.items():
        CopyPair.objects.filter(master=master).update(active=False)
        CopyPair.objects.filter(pk__in=[p.pk for p in pairs[:slaves]]).update(active=True)
        row = FanoutRow(slaves)
        for r in range(rounds + 1):  # the first round warms up
            order_id = f"bench-{slaves}-{r}-{secrets.token_hex(3)}"
            time.sleep(random.uniform(0, GAP))
            started = time.perf_counter()
            reply, ack = post_event(
                client,
                key,
                {
                    "event": "deal_add",
                    "order_id": order_id,
                    "account": master.login,
                    "symbol": SYMBOL,
                    "type": "BUY",
                    "volume": VOLUME,
                },
            )
            seen = wait_final(reply["event"], slaves, started)
            if r:
                orders = Order.objects.filter(copy_execution__event_id=reply["event"])
                for order in orders:
                    row.stored.append((order.done_at - order.created_at).total_seconds() * 1000)
                    row.queued.append((order.queued_at - order.created_at).total_seconds() * 1000)
                    row.claimed.append((order.sent_at - order.created_at).total_seconds() * 1000)
                    if order.status != "filled":
                        reason = f"{order.status}: {order.status_reason[:60]}"
                        row.unfilled[reason] = row.unfilled.get(reason, 0) + 1
                row.seen.append(seen)
                row.ack.append(ack)
            closed, _ = post_event(client, key, {"event": "deal_close", "order_id": order_id, "account": master.login})
            wait_final(closed["event"], closed["pairs_processed"], time.perf_counter())
            progress(f"{slaves} slave(s)", r, rounds)
        rows.append(row)
    client.close()
    return rows


def bench_watcher(master, rounds: int) -> list[float]:
    """Trades made on the master terminal itself; detection = deal time → copy event stored.
    `master` must be one no EA posted for: the watcher stands aside for those for a day."""
    time.sleep(12)  # two rounds of the agent: it starts watching this master
    detections = []
    for r in range(rounds):
        time.sleep(random.uniform(0, 2))
        driver = simulated_driver(master)
        tick = driver.tick(SYMBOL)
        result = driver.order_send(
            OrderRequest(
                action=TradeAction.DEAL,
                symbol=SYMBOL,
                volume=VOLUME,
                type=OrderType.BUY,
                price=tick.ask,
                comment="by hand",
            )
        )
        [deal] = [
            d
            for d in driver.deals(since=datetime.now(UTC).replace(year=2000), until=datetime.now(UTC))
            if d.ticket == result.deal
        ] or [None]
        deadline = time.monotonic() + 30
        while (event := CopyEvent.objects.filter(master=master, order_id=str(result.order)).first()) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the watcher did not report a trade within 30 s")
            time.sleep(0.01)
        detections.append(event.received_at.timestamp() * 1000 - (deal.time_msc if deal else 0))
        tick = driver.tick(SYMBOL)
        driver.order_send(
            OrderRequest(
                action=TradeAction.DEAL,
                symbol=SYMBOL,
                volume=VOLUME,
                type=OrderType.SELL,
                price=tick.bid,
                position=result.order,
                comment="by hand",
            )
        )
        driver.shutdown()
        progress("watcher", r + 1, rounds)
    deadline = time.monotonic() + 30
    while Order.objects.filter(status__in=["queued", "sending"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return detections


def report(mode: str, rows: list[FanoutRow], watcher: list[float], interval: float, scaled: bool) -> dict:
    print(
        f"\nCopy trading bench, {mode}\n{VOLUME} {SYMBOL} per master event; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    print("\nMaster event received → slave filled (service stamps), and as the client sees it")
    header = (
        f"{'slaves':>6} {'events':>6} {'orders':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'reply p50':>9} {'all final p50':>13}  note"
    )
    print(header)
    print("-" * len(header))
    summary = {}
    for row in rows:
        s = stats(row.stored)
        note = "; ".join(f"{n} {reason}" for reason, n in row.unfilled.items()) or "all filled"
        print(
            f"{row.slaves:>6} {len(row.seen):>6} {s['n']:>6} {s['median']:>8.1f} {s['p95']:>8.1f} {s['p99']:>8.1f} "
            f"{s['max']:>8.1f} {statistics.median(row.ack):>9.1f} {statistics.median(row.seen):>13.1f}  {note}"
        )
        summary[f"slaves_{row.slaves}"] = {
            **s,
            "reply_p50": statistics.median(row.ack),
            "all_final_p50": statistics.median(row.seen),
            "unfilled": row.unfilled,
        }
    target = "40" if scaled else "100"
    print(f"target: p50 under {target} ms")
    print("\nWhere the time goes, p50 ms from the event received: committed and queued / claimed by a drain / final")
    for row in rows:
        medians = [statistics.median(times) for times in (row.queued, row.claimed, row.stored)]
        print(f"{row.slaves:>6} " + " / ".join(f"{m:.1f}" for m in medians))
        summary[f"slaves_{row.slaves}"]["phases_p50"] = medians
    if watcher:
        w = stats(watcher)
        print(f"\nWatcher: deal on the master terminal → copy event stored, host agent every {interval:g} s")
        print(
            f"  n {w['n']}, p50 {w['median']:.0f} ms, p95 {w['p95']:.0f} ms, max {w['max']:.0f} ms "
            f"(target: p50 under one interval, {interval * 1000:.0f} ms)"
        )
        summary["watcher"] = {**w, "interval_s": interval}
    return summary


def export_rows(mode: str, baseline: list[float], rows: list[FanoutRow], watcher: list[float], peak: int) -> None:
    out = [bench_rows.row("GET /health, same daphne", baseline, per_second=len(baseline) / (sum(baseline) / 1000),
                          baseline=True)]  # fmt: skip
    for r in rows:
        note = "; ".join(f"{n} {reason}" for reason, n in r.unfilled.items()) or "all filled"
        per_second = r.slaves / (statistics.median(r.seen) / 1000)
        out.append(bench_rows.row(f"{r.slaves} slave(s): received → filled", r.stored, peak_bytes=peak, note=note))
        out.append(bench_rows.row(f"{r.slaves} slave(s): send → all final", r.seen, per_second=per_second))
    if watcher:
        out.append(bench_rows.row("watcher: master deal → copy event", watcher, note="host agent round"))
    bench_rows.export("copy", f"Copy trading, {mode}", out)


def run(args, directory: Path, env: dict[str, str]) -> None:
    """This process reads the service's database through the ORM, with the stack's settings."""
    sizes = QUICK if args.quick else FULL
    if args.no_watcher:
        sizes.watcher = 0
    with service_stack(args, directory, env) as stack:
        try:
            demo_ids = [a["id"] for a in stack.demo["accounts"]]
            # Every round opens and closes on every slave: a full run trades more an hour than
            # the default guard allows, and a refused order would be timed as a fast one.
            TradingAccount.objects.filter(pk__in=demo_ids).update(max_trades_per_hour=100_000)
            accounts = list(TradingAccount.objects.filter(pk__in=demo_ids).order_by("pk"))
            # With fewer accounts (--accounts), the rows that fit: the watcher needs two of them.
            widths = [n for n in SLAVES if n <= len(accounts) - 3]
            sizes.rounds = {n: sizes.rounds[n] for n in widths}
            master, slaves = accounts[0], accounts[1 : 1 + max(widths)]
            key = ""
            for slave in slaves:
                _, made = pair_create(owner=master.owner, master=master, slave=slave)
                key = key or made
            baseline = health_times(stack.port, 100 if args.quick else 300)
            rows = bench_fanout(stack.port, master, key, sizes)
            peak = stack_rss(stack)
            # The fan-out master's events came through the API: the watcher gets a master of its own.
            watched, follower = accounts[1 + max(widths)], accounts[2 + max(widths)]
            pair_create(owner=watched.owner, master=watched, slave=follower)
            watcher = bench_watcher(watched, sizes.watcher) if sizes.watcher else []
            stack.check_alive()
            summary = report(stack.mode, rows, watcher, args.agent_interval, args.scaled)
            export_rows(stack.mode, baseline, rows, watcher, peak)
            results = ROOT / "bench" / "results"
            results.mkdir(exist_ok=True)
            saved = results / f"copy-{stack.mode_key}-{datetime.now():%Y%m%d-%H%M%S}.json"
            body = {"bench": "copy", "mode": stack.mode, "quick": args.quick, "summary": summary}
            saved.write_text(json.dumps(body, indent=2, default=str))
            print(f"\nresults: {saved.relative_to(ROOT)}")
        finally:
            connections.close_all()  # before a PostgreSQL database is dropped

