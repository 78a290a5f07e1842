"""The benchmark areas: each one's options and the environment its process sets Django up with,
before the area's module (which imports the project's apps) is imported. Nothing here imports
Django: `python -m bench` reads it to start each area in a process of its own."""

import argparse
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.stack import ACCOUNTS, POSTGRES, REDIS, create_postgres, stack_environment
from tests.servers import service_env


@dataclass(frozen=True)
class Area:
    name: str
    module: str  # bench.<module>, whose run(args, directory, env) measures the area
    description: str
    steps: int  # progress lines its process prints in a full run, roughly: the runner's bar
    options: Callable[[argparse.ArgumentParser], None]
    environment: Callable[[argparse.Namespace, Path], dict[str, str]]
    # Its options under `python -m bench` (the runner's --quick, --scaled, --redis-url).
    runner_options: Callable[[argparse.Namespace], list[str]]

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=f"python -m bench {self.name}", description=self.description)
        self.options(parser)
        parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, process logs)")
        return parser


def stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="fewer samples: about two minutes")
    parser.add_argument("--scaled", action="store_true", help="PostgreSQL + Redis instead of the embedded defaults")
    parser.add_argument("--redis-url", default=REDIS, help=f"with --scaled (default {REDIS})")
    parser.add_argument("--database-prefix", default="bench", help="with --scaled: prefix of the throwaway database")
    parser.add_argument(
        "--agent-interval", type=float, default=5.0, help="host agent heartbeat, s (default 5, as `make run`)"
    )


def webhook_options(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS, help=f"simulated accounts (default {ACCOUNTS})")


def copy_options(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    parser.add_argument("--accounts", type=int, default=100, help="simulated accounts (default 100; 53 for every row)")
    parser.add_argument("--no-watcher", action="store_true", help="leave out the watcher row (its 12 s warm-up)")


def live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="events per user in the fan-out")
    parser.add_argument("--redis-url", default=REDIS, help=f"for the row through Redis (default {REDIS})")


def terminal_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=500, help="timed orders per row (default 500)")
    parser.add_argument("--quick", action="store_true", help="100 orders per row")


def journal_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="10,000 deals instead of 100,000")
    parser.add_argument("--scaled", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--database-prefix", default="bench", help="with --scaled: prefix of the throwaway database")


def journal_environment(args: argparse.Namespace, directory: Path) -> dict[str, str]:
    env = {"DJANGO_SETTINGS_MODULE": "mt5saas.settings", "DEBUG": "1"}
    if args.scaled:
        name = f"{args.database_prefix}_journal_{secrets.token_hex(4)}"
        create_postgres(name)  # dropped by bench.journal.run
        return env | {"DATABASE_URL": f"{POSTGRES}/{name}", "BENCH_JOURNAL_DATABASE": name}
    # WAL and a busy timeout: the deal → event row runs the host agent's rounds on a thread of its own.
    wal = "?init_command=PRAGMA+journal_mode%3DWAL%3B&transaction_mode=IMMEDIATE&timeout=20"
    return env | {"DATABASE_URL": f"sqlite:///{directory / 'journal.sqlite3'}{wal}"}


def journal_runner_options(args: argparse.Namespace) -> list[str]:
    return [*(["--quick"] if args.quick else []), *(["--scaled"] if args.scaled else [])]


def live_environment(args: argparse.Namespace, directory: Path) -> dict[str, str]:
    return service_env(
        DATABASE_URL=f"sqlite:///{directory / 'live.sqlite3'}?init_command=PRAGMA+journal_mode%3DWAL%3B&"
        "transaction_mode=IMMEDIATE&timeout=20",
        REDIS_URL="",
        LIVE_EVENTS_KEEP="100000",
    )


def terminal_environment(args: argparse.Namespace, directory: Path) -> dict[str, str]:
    # Inherited by the session processes, so they open the same throwaway database.
    return {
        "DJANGO_SETTINGS_MODULE": "mt5saas.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
    }


def stack_runner_options(args: argparse.Namespace) -> list[str]:
    return [
        *["--redis-url", args.redis_url],
        *(["--scaled"] if args.scaled else []),
        *(["--quick", "--agent-interval", "2", "--accounts", "14"] if args.quick else []),
    ]


def copy_runner_options(args: argparse.Namespace) -> list[str]:
    # The watcher's 12 s warm-up alone is a tenth of a quick run's budget.
    return stack_runner_options(args) + (["--no-watcher"] if args.quick else [])


def live_runner_options(args: argparse.Namespace) -> list[str]:
    quick = ["--events", "60", "--clients", "100", "--users", "20"] if args.quick else []
    return ["--redis-url", args.redis_url, *quick]


def terminal_runner_options(args: argparse.Namespace) -> list[str]:
    return ["--orders", "40"] if args.quick else []


AREAS = [
    Area("webhook", "webhook", "Webhook intake and execution: acknowledgement against /health, received → filled, "
         "fan-out.", 8, webhook_options, stack_environment, stack_runner_options),
    Area("copy", "copytrade", "Copy trading: master event received → slave filled for 1, 10 and 50 slaves, and the "
         "host-side watcher's detection time.", 4, copy_options, stack_environment, copy_runner_options),
    Area("live", "live", "Live events: publish → client receipt, and fan-out to 1,000 SSE clients of 100 users.", 1,
         live_options, live_environment, live_runner_options),
    Area("terminal", "terminal", "Order latency and memory of the MetaTrader5 path: bare module call, driver, "
         "session process.", 4, terminal_options, terminal_environment, terminal_runner_options),
    Area("journal", "journal", "Trade journal: ingest of 100,000 deals across 100 accounts against plain "
         "bulk_create, and the queries of a host round with no new deals.", 4, journal_options, journal_environment,
         journal_runner_options),
]  # fmt: skip
AREAS_BY_NAME = {area.name: area for area in AREAS}
