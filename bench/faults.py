"""Signals while queue workers are SIGKILLed, at full size: nothing lost, nothing doubled.

    python bench/faults.py [--signals 1000] [--scaled]

With --scaled it also runs the outage suite (tests/test_fault_outages.py: Redis restarted,
PostgreSQL connections dropped, a qcluster and a daphne restarted on the scaled stack) and
prints how long after each outage queued work resumed and /health was 200 again.

Runs the fault scenario of tests/test_faults.py (real daphne, qcluster and host agent; a
steady stream of signals, a few with a repeated id, to 3 simulated accounts; a qcluster
worker SIGKILLed every 1-2 s and once the whole qcluster) with FAULTS_SIGNALS set, on the
embedded defaults or, with --scaled, on PostgreSQL and Redis. Its assertions are the
verdict: every order final, no client id twice on a terminal (orders, deals, positions),
every 202 stored with its orders, every repeated id answered with the first reply. The
table shows what the run went through; JSON in bench/results/ (not tracked).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"

ROWS = [
    ("signals", "signals sent (all answered 202)"),
    ("ids_repeated", "of which repeated an id (first reply returned)"),
    ("orders", "orders (one per account and signal)"),
    ("workers_killed", "qcluster workers SIGKILLed"),
    ("qclusters_killed", "whole qclusters SIGKILLed and restarted"),
    ("drains_taken_over", "drains taken over from a dead one"),
    ("found_on_terminal", "orders found on the terminal after an interruption"),
    ("agent_rounds_executing", "host agent rounds that executed left-behind orders"),
    ("sending_s", "sending, s"),
    ("final_after_s", "last order final after the last signal, s"),
]


def outages(env: dict[str, str]) -> dict | None:
    """tests/test_fault_outages.py (Redis restart, PostgreSQL connections dropped, a qcluster
    and a daphne restarted on the scaled stack): its figures, or None when it failed."""
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "outages.json"
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/test_fault_outages.py", "-m", "faults", "-q", "-rs",
             "-p", "no:cacheprovider"],
            cwd=ROOT,
            env={**env, "FAULTS_OUTAGES_REPORT": str(report)},
        )  # fmt: skip
        if run.returncode != 0 or not report.exists():
            print("FAILED: an outage lost, doubled or stranded work (the pytest output above says which)")
            return None
        figures = json.loads(report.read_text())
    print("\nOutages on the scaled stack (s: seconds after the part came back)")
    header = f"{'fault':<20} {'signals':>7} {'copy events':>11} {'resent':>14} {'work resumed s':>14}"
    print(f"  {header} {'health 200 s':>12}  503 named")
    for name, f in figures.items():
        print(
            f"  {name:<20} {f['signals']:>7} {f['copy_events']:>11} {f['resent'] or '-'!s:>14} "
            f"{f.get('work_resumed_after_s', '-'):>14} {f.get('health_200_after_s', '-'):>12}  "
            f"{', '.join(f['health_failing_seen']) or '-'}"
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=1000)
    parser.add_argument("--scaled", action="store_true", help="PostgreSQL + Redis instead of the embedded defaults")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    if args.scaled:
        env.update(DATABASE_URL=POSTGRES, REDIS_URL=REDIS)
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "report.json"
        env.update(FAULTS_SIGNALS=str(args.signals), FAULTS_REPORT=str(report))
        started = time.monotonic()
        print(f"{args.signals} signals while workers die ({'PostgreSQL + Redis' if args.scaled else 'embedded'})…")
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/test_faults.py", "-m", "faults", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
        )
        if run.returncode != 0 or not report.exists():
            print("FAILED: an order was lost, doubled or left unfinished (the pytest output above says which)")
            return 1
        figures = json.loads(report.read_text())
    print(f"\nNothing lost, nothing doubled ({time.monotonic() - started:.0f} s in all)")
    width = max(len(label) for _, label in ROWS)
    for key, label in ROWS:
        print(f"  {label:<{width}}  {figures[key]:>8}")
    if args.scaled:
        figures["outages"] = outages(env)
        if figures["outages"] is None:
            return 1
    figures.update(scaled=args.scaled, at=datetime.now(UTC).isoformat(timespec="seconds"))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stack = "postgres-redis" if args.scaled else "sqlite"
    path = results / f"faults-{stack}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
