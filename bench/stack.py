"""The service as `make run` starts it, for one bench run: daphne, a qcluster and the simulated
host's agent on a throwaway database (SQLite in the run's directory, or a fresh PostgreSQL
database with Redis for --scaled), with one demo trader and its simulated accounts."""

import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from cryptography.fernet import Fernet

from bench.measure import Client
from tests.servers import manage, service_env, start, start_daphne, stop

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
ACCOUNTS = 100
# `manage.py demo` stops at 50 accounts; the same service function makes the rest.
MORE_ACCOUNTS = (
    "import json; from accounts.models import User; from terminals.services import demo_accounts; "
    "print(json.dumps(demo_accounts(owner=User.objects.get(username='bench'), count={count})))"
)



def create_postgres(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


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


def stack_environment(args, directory: Path) -> dict[str, str]:
    """The environment of the stack's processes, and of the bench's own when it reads their
    database: its throwaway database (not created yet) and keys of its own."""
    keys = {"SECRET_KEY": "bench-" + secrets.token_urlsafe(40), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    overrides = {**keys, "WEBHOOK_RATE_LIMIT": "1000000/m", "API_RATE_LIMIT": "1000000/m"}
    if args.scaled:
        url = f"{POSTGRES}/{args.database_prefix}_{secrets.token_hex(4)}"
        return service_env(DATABASE_URL=url, REDIS_URL=args.redis_url, **overrides)
    # A SQLite DATABASE_URL keeps the embedded options (WAL, IMMEDIATE, a connection per request).
    return service_env(DATABASE_URL=f"sqlite:///{directory / 'bench.sqlite3'}", REDIS_URL="", **overrides)


@contextmanager
def service_stack(args, directory: Path, env: dict[str, str]) -> Iterator[Stack]:
    """daphne, a qcluster and the host agent with `env` (stack_environment()), with the demo
    trader; process logs are shown if the run fails, and everything is stopped and the
    PostgreSQL database dropped afterwards."""
    database_name, url = "", ""
    sqlite_path = directory / "bench.sqlite3"
    if args.scaled:
        refuse_shared_queue(args.redis_url)
        url = env["DATABASE_URL"]
        database_name = urlsplit(url).path.lstrip("/")
        create_postgres(database_name)
        mode, mode_key = "PostgreSQL + Redis, 2 daphne on 2 ports, 2 qclusters", "postgres-redis"
    else:
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
