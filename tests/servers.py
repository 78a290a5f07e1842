"""Real processes of the service (daphne, qcluster, manage.py) for tests that need them."""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DEBUG="0",
        HTTPS="0",
        # The same keys as this process: tasks are signed with SECRET_KEY, secrets encrypted.
        SECRET_KEY=os.environ.get("SECRET_KEY") or "subprocess-secret-key-" + "s" * 40,
        FIELD_ENCRYPTION_KEYS=os.environ.get("FIELD_ENCRYPTION_KEYS") or Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="mt5saas.settings",
    )
    env.update(overrides)
    return env


def test_database_url(connection) -> str:
    """The URL of the database this test process uses (pytest-django's test database)."""
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    return f"postgres://{user}@{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{params['NAME']}"


def manage(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def start_daphne(env: dict[str, str], log: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """daphne on `port` (a free one by default); returns once it accepts connections."""
    port = port or free_port()
    process = start(["-m", "mt5saas.serve", "-b", "127.0.0.1", "-p", str(port), "mt5saas.asgi:application"], env, log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, base
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited: {log.read_text()}") from None
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not listen: {log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(predicate, timeout: float = 30, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


# --- the shared database ---------------------------------------------------------------


class SharedDatabase:
    """A database the test and its subprocesses share, apart from pytest-django's own."""

    def __init__(self, tmp_path: Path, prefix: str = "faults") -> None:
        from django.db import connection

        self.vendor = connection.vendor
        if self.vendor == "postgresql":
            import psycopg

            params = connection.settings_dict
            self.server = {
                "host": params.get("HOST") or "127.0.0.1",
                "port": int(params.get("PORT") or 5432),
                "user": params.get("USER") or "postgres",
            }
            self.name = f"{prefix}_{secrets.token_hex(4)}"
            with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            server = self.server
            self.url = f"postgres://{server['user']}@{server['host']}:{server['port']}/{self.name}"
        else:
            self.path = tmp_path / "db.sqlite3"
            # The embedded defaults' options (WAL, IMMEDIATE, a 20 s busy timeout): a bare
            # sqlite:// URL would drop them and leave writers failing with "database is locked".
            options = urllib.parse.urlencode(connection.settings_dict.get("OPTIONS", {}))
            self.url = f"sqlite:///{self.path}?{options}"

    def rows(self, sql: str) -> list[tuple]:
        """Run one statement in its own autocommitted connection; the rows it returns."""
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname=self.name, autocommit=True, **self.server) as conn:
                cursor = conn.execute(sql)
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drop(self) -> None:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- processes -----------------------------------------------------------------------


class Processes:
    """Every process the test starts, stopped with all its descendants at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[subprocess.Popen] = []
        self.cluster: subprocess.Popen | None = None
        self.cluster_log: Path | None = None
        self.generation = 0

    def start(self, args: list[str], name: str, **env: str) -> subprocess.Popen:
        process = start(args, {**self.env, **env}, self.logs / f"{name}.log")
        self.started.append(process)
        return process

    def daphne(self, port: int | None = None, name: str = "daphne", **env: str) -> tuple[subprocess.Popen, str]:
        """A daphne on `port` (a free one by default) and its base URL, once it accepts connections."""
        process, base = start_daphne({**self.env, **env}, self.logs / f"{name}.log", port)
        self.started.append(process)
        return process, base

    def start_cluster(self) -> None:
        self.generation += 1
        name = f"qcluster-{self.generation}"
        self.cluster_log = self.logs / f"{name}.log"
        self.cluster = self.start(["manage.py", "qcluster"], name, Q_WORKERS="2")

    def kill_cluster(self) -> None:
        """SIGKILL to the qcluster and every process of its group: no goodbye to the broker."""
        os.killpg(self.cluster.pid, signal.SIGKILL)
        self.cluster.wait()

    def workers(self) -> list[int]:
        """PIDs of the current qcluster's live workers (each logs "ready for work at <pid>")."""
        announced = {int(pid) for pid in re.findall(r"ready for work at (\d+)", self.cluster_log.read_text())}
        alive = []
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.cluster.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    if child.pid in announced and child.status() != psutil.STATUS_ZOMBIE:
                        alive.append(child.pid)
        return alive

    def stop_all(self) -> list[psutil.Process]:
        """SIGKILL for the qclusters (their graceful stop can hang once a killed worker has
        locked their task queue), SIGTERM for the others; returns what is still alive."""
        family = []
        for process in reversed(self.started):
            with contextlib.suppress(psutil.NoSuchProcess):
                family += psutil.Process(process.pid).children(recursive=True)
            if "qcluster" in process.args and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            stop(process)
        for child in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        _, alive = psutil.wait_procs(family, timeout=5)
        return alive
