"""Signals while queue workers are SIGKILLed, at full size: nothing lost, nothing doubled.

    python bench/faults.py [--signals 1000] [--scaled]

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
