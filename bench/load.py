"""Sustained load on the scaled stack: many traders' signals at a steady rate, for minutes.

    python bench/load.py [--minutes 10] [--rate 1000] [--traders 100] [--accounts 10]
    python bench/load.py --ramp [--step-seconds 30]   # the highest rate before p99 passes 100 ms

The scaled stack of the webhook area (bench/stack.py: a fresh PostgreSQL database, Redis as
broker, channel layer and cache, two daphne processes on two ports, two qclusters, the
simulated host's agent), with --traders traders of --accounts simulated accounts each, every
trader with its own webhook token. Signals are sent open-loop: signal i is due at start +
i / rate, whether or not the earlier ones were answered, by a pool of senders on keep-alive
connections spread over both daphne processes; a signal goes to one account of its trader in
turn (--fanout N: to N of them). The acknowledgement time is counted from the moment a signal
was due, so a server that falls behind shows it (no coordinated omission).

Every --window seconds one line: acknowledgement p50/p99, signals sent, errors (anything but
202, or no answer), orders waiting (queued or sending), orders finished per second. At the
end: nothing lost (every 202 has its orders, every order final), nothing doubled (no client
id twice on a simulated terminal), and the summary; JSON in bench/results/ (not tracked).
"""

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import Client, Database  # noqa: E402
from bench.rows import percentile  # noqa: E402
from bench.stack import REDIS, checked, service_stack, stack_environment  # noqa: E402
from tests.servers import manage  # noqa: E402

SENDERS = 16
FINAL = ("filled", "rejected", "failed", "cancelled")
P99_LIMIT_MS = 100.0
TRADERS_SCRIPT = (
    "import json\n"
    "from accounts.models import User\n"
    "from accounts.services import webhook_token_reveal\n"
    "from terminals.models import TradingAccount\n"
    "from terminals.services import demo_accounts\n"
    "out = []\n"
    "for n in range({traders}):\n"
    "    user, _ = User.objects.get_or_create(username=f'load{{n}}', defaults={{'email': f'load{{n}}@bench.test'}})\n"
    "    logins = [a['login'] for a in demo_accounts(owner=user, count={accounts})]\n"
    "    out.append([webhook_token_reveal(user=user), logins])\n"
    "TradingAccount.objects.update(max_trades_per_hour=1000000)\n"
    "print(json.dumps(out))\n"
)


@dataclass
class Result:
    due: float  # when it was due (perf_counter)
    ack_ms: float  # due → answer
    status: int
    signal: int | None = None
    orders: list[int] = field(default_factory=list)


class Load:
    """Open-loop senders: signal i is due at `start + i / rate`."""

    def __init__(self, ports: list[int], traders: list[tuple[str, list[str]]], fanout: int) -> None:
        self.ports, self.traders, self.fanout = ports, traders, fanout
        self.results: list[Result] = []
        self.lock = threading.Lock()
        self.turn = itertools.count()

    def body(self, i: int) -> tuple[str, bytes]:
        token, logins = self.traders[i % len(self.traders)]
        k = i // len(self.traders)
        chosen = [logins[(k * self.fanout + j) % len(logins)] for j in range(min(self.fanout, len(logins)))]
        data = {"action": ("buy", "sell")[k % 2], "symbol": "BTCUSD", "volume": "0.01", "accounts": chosen}
        return f"/webhook/{token}", json.dumps(data).encode()

    def run(self, rate_per_min: float, seconds: float) -> list[Result]:
        """Sends at `rate_per_min` for `seconds`; returns this run's results."""
        first = len(self.results)
        count = int(rate_per_min / 60 * seconds)
        start = time.perf_counter() + 0.2
        indexes = iter(range(count))
        index_lock = threading.Lock()

        def sender(n: int) -> None:
            client = Client(self.ports[n % len(self.ports)])
            while True:
                with index_lock:
                    i = next(indexes, None)
                if i is None:
                    break
                due = start + i * 60 / rate_per_min
                time.sleep(max(0.0, due - time.perf_counter()))
                path, body = self.body(next(self.turn))
                try:
                    status, data, _ = client.send("POST", path, body)
                except OSError:
                    status, data = 0, b""
                    client.close()
                    client = Client(self.ports[n % len(self.ports)])
                result = Result(due, (time.perf_counter() - due) * 1000, status)
                if status == 202:
                    reply = json.loads(data)
                    result.signal, result.orders = reply["signal"], [o["id"] for o in reply["orders"]]
                with self.lock:
                    self.results.append(result)
            client.close()

        threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.results[first:]


def monitor(load: Load, db: Database, window: float, stop: threading.Event, lines: list[dict]) -> None:
    """Every `window` seconds: the window's acknowledgements, errors, waiting and finished orders."""
    started = time.perf_counter()
    seen = 0
    finished_before = db.value(
        "SELECT count(*) FROM terminals_order WHERE status IN ('filled','rejected','failed','cancelled')"
    )
    print(
        f"{'t s':>5} {'sent':>5} {'ack p50':>8} {'ack p99':>8} {'errors':>6} {'waiting':>8} {'orders/s':>8}", flush=True
    )
    while not stop.wait(window):
        with load.lock:
            batch = load.results[seen:]
            seen = len(load.results)
        finished = db.value(
            "SELECT count(*) FROM terminals_order WHERE status IN ('filled','rejected','failed','cancelled')"
        )
        waiting = db.value("SELECT count(*) FROM terminals_order WHERE status IN ('queued','sending')")
        acks = sorted(r.ack_ms for r in batch)
        line = {
            "t": round(time.perf_counter() - started),
            "sent": len(batch),
            "p50": statistics.median(acks) if acks else None,
            "p99": percentile(acks, 99) if acks else None,
            "errors": sum(r.status != 202 for r in batch),
            "waiting": waiting,
            "orders_per_s": (finished - finished_before) / window,
        }
        finished_before = finished
        lines.append(line)
        p50 = f"{line['p50']:8.1f}" if acks else f"{'—':>8}"
        p99 = f"{line['p99']:8.1f}" if acks else f"{'—':>8}"
        print(
            f"{line['t']:>5} {line['sent']:>5} {p50} {p99} {line['errors']:>6} {waiting:>8} "
            f"{line['orders_per_s']:>8.1f}",
            flush=True,
        )


def verify(db: Database, results: list[Result], timeout: float = 300) -> dict:
    """Wait for every order to be final, then count what was lost or doubled."""
    started = time.perf_counter()
    while db.value("SELECT count(*) FROM terminals_order WHERE status IN ('queued','sending')"):
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.5)
    drained = time.perf_counter() - started
    accepted = [r for r in results if r.status == 202]
    stored = {
        pk: (signal, status) for pk, signal, status in db.rows("SELECT id, signal_id, status FROM terminals_order")
    }
    lost = [r.signal for r in accepted if any(stored.get(o, (None,))[0] != r.signal for o in r.orders)]
    waiting = [pk for pk, (_, status) in stored.items() if status not in FINAL]
    doubled = db.rows(
        "SELECT comment, count(*) FROM terminals_simdeal WHERE entry = 0 GROUP BY comment HAVING count(*) > 1"
    )
    statuses: dict[str, int] = {}
    for _, status in stored.values():
        statuses[status] = statuses.get(status, 0) + 1
    reasons = db.rows(
        "SELECT status, left(status_reason, 80), count(*) FROM terminals_order WHERE status <> 'filled' "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5"
    )
    return {
        "not_filled_reasons": [f"{n} {status}: {reason}" for status, reason, n in reasons],
        "drained_after_s": round(drained, 1),
        "lost_signals": len(lost),
        "orders_not_final": len(waiting),
        "client_ids_doubled": len(doubled),
        "orders_by_status": statuses,
    }


def summary(results: list[Result]) -> dict:
    acks = sorted(r.ack_ms for r in results)
    return {
        "signals": len(results),
        "errors": sum(r.status != 202 for r in results),
        "ack_p50_ms": statistics.median(acks),
        "ack_p95_ms": percentile(acks, 95),
        "ack_p99_ms": percentile(acks, 99),
        "ack_max_ms": acks[-1],
    }


def make_traders(env: dict[str, str], traders: int, accounts: int) -> list[tuple[str, list[str]]]:
    script = TRADERS_SCRIPT.format(traders=traders, accounts=accounts)
    done = checked(manage("shell", "-c", script, env=env, timeout=1800), "traders")
    return [(token, logins) for token, logins in json.loads(done.stdout.strip().splitlines()[-1])]


def run(args, directory: Path) -> dict:
    args.scaled, args.accounts = True, 1  # the stack's own demo trader is not used here
    with service_stack(args, directory, stack_environment(args, directory)) as stack:
        started = time.perf_counter()
        traders = make_traders(stack.env, args.traders, args.accounts_each)
        print(
            f"{args.traders} traders x {args.accounts_each} accounts made in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        db = Database(url=stack.database_url)
        load = Load(stack.ports, traders, args.fanout)
        result: dict = {
            "bench": "load",
            "mode": stack.mode,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "load_average_before": os.getloadavg(),
            "traders": args.traders,
            "accounts_each": args.accounts_each,
            "fanout": args.fanout,
        }
        try:
            load.run(60, 5)  # warm-up: connections, caches
            if args.ramp:
                result["steps"] = ramp(load, db, args)
                passing = [s for s in result["steps"] if s["ack_p99_ms"] < P99_LIMIT_MS and not s["errors"]]
                result["max_rate_per_min"] = max((s["rate_per_min"] for s in passing), default=None)
                print(
                    f"\nhighest rate with ack p99 under {P99_LIMIT_MS:.0f} ms and no error: "
                    f"{result['max_rate_per_min']}/min"
                )
            else:
                print(
                    f"\n{args.rate:g} signals/min for {args.minutes:g} min, {args.traders} traders x "
                    f"{args.accounts_each} accounts, {args.fanout} account(s) per signal; {stack.mode}"
                )
                lines: list[dict] = []
                stop = threading.Event()
                watcher = threading.Thread(target=monitor, args=(load, db, args.window, stop, lines), daemon=True)
                watcher.start()
                results = load.run(args.rate, args.minutes * 60)
                stop.set()
                watcher.join()
                result.update(windows=lines, **summary(results))
                result.update(verify(db, load.results))
                stack.check_alive()
                print_summary(result)
            result["load_average_after"] = os.getloadavg()
            return result
        finally:
            db.close()


def ramp(load: Load, db: Database, args) -> list[dict]:
    steps = []
    print(f"{'rate/min':>8} {'sent':>6} {'ack p50':>8} {'ack p99':>8} {'errors':>6} {'waiting':>8}")
    for rate in args.rates:
        results = load.run(rate, args.step_seconds)
        waiting = db.value("SELECT count(*) FROM terminals_order WHERE status IN ('queued','sending')")
        step = {"rate_per_min": rate, **summary(results), "waiting_after": waiting}
        steps.append(step)
        print(
            f"{rate:>8} {step['signals']:>6} {step['ack_p50_ms']:>8.1f} {step['ack_p99_ms']:>8.1f} {step['errors']:>6} "
            f"{waiting:>8}",
            flush=True,
        )
        if step["ack_p99_ms"] >= P99_LIMIT_MS or step["errors"]:
            break
    return steps


def print_summary(result: dict) -> None:
    print(
        f"\nsignals {result['signals']}, errors {result['errors']}; acknowledgement p50 {result['ack_p50_ms']:.1f} ms, "
        f"p95 {result['ack_p95_ms']:.1f} ms, p99 {result['ack_p99_ms']:.1f} ms, max {result['ack_max_ms']:.1f} ms"
    )
    print(
        f"every order final {result['drained_after_s']} s after the last signal; "
        f"lost signals {result['lost_signals']}, orders not final {result['orders_not_final']}, "
        f"client ids doubled on a terminal {result['client_ids_doubled']}; orders {result['orders_by_status']}"
    )
    for reason in result["not_filled_reasons"]:
        print(f"  not filled: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=1000, help="signals per minute (default 1000)")
    parser.add_argument("--traders", type=int, default=100)
    parser.add_argument("--accounts", dest="accounts_each", type=int, default=10, help="accounts per trader")
    parser.add_argument("--fanout", type=int, default=1, help="accounts per signal (default 1)")
    parser.add_argument("--window", type=float, default=10, help="seconds per printed line (default 10)")
    parser.add_argument("--ramp", action="store_true", help="rising rates until p99 passes 100 ms")
    parser.add_argument(
        "--rates", type=lambda v: [int(x) for x in v.split(",")], default=[500, 1000, 2000, 3000, 4500, 6000, 9000]
    )
    parser.add_argument("--step-seconds", type=float, default=30)
    parser.add_argument("--redis-url", default=REDIS, help=f"(default {REDIS})")
    parser.add_argument("--database-prefix", default="load", help="prefix of the throwaway PostgreSQL database")
    parser.add_argument("--agent-interval", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mt5saas-load-") as directory:
        result = run(args, Path(directory))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    kind = "ramp" if args.ramp else "sustained"
    path = results / f"load-{kind}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
