"""The scaled stack keeps every order through outages (issue 10): real processes, real engines.

Two daphne processes (A takes the webhooks and copy events, B serves live streams), two
qclusters and the simulated host's agent share a PostgreSQL database of their own and a
redis-server this module starts on a free port (the machine's Redis is never touched). A
trader's three accounts receive a steady stream of signals, and a copy pair (two more
accounts) a stream of master trades, while one fault happens:

- a qcluster worker is killed with SIGKILL;
- a whole qcluster is killed with SIGKILL and started again;
- the redis-server is shut down and started again on the same port;
- the test database refuses connections and its backends are terminated
  (pg_terminate_backend of this database's own backends only; the server keeps running);
- daphne B is restarted while SSE clients are attached; they come back with Last-Event-ID.

The senders behave as TradingView and a master EA do: an answer that is not 2xx or a
refused connection is sent again, with the same body (the signal's `id`, the copy event's
`deal`, make a resend place nothing twice). After each fault every order must be final,
no client id may appear twice on a simulated terminal, every signal and copy event sent
must be stored once, and `/health` must have answered 503 naming the failing part during
the outage and 200 after it. Recovery times are printed (pytest -s) and, with
FAULTS_OUTAGES_REPORT set, written as JSON for bench/faults.py.

Needs PostgreSQL (DATABASE_URL) and a redis-server binary; skipped otherwise.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from django.db import connection

from tests import servers
from tests.servers import Processes, SharedDatabase

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

FINAL = ("filled", "rejected", "failed", "cancelled")
SIGNAL_EVERY_S = 0.15
COPY_EVERY_S = 0.4
RESEND_AFTER_S = 0.5  # TradingView waits 5 s; the contract is the same, the test is shorter
SETTLE_TIMEOUT_S = 60
RECOVERY_TARGET_S = 5  # issue 10: queued work resumes within 5 s after Redis or PostgreSQL return
RECOVERY_ASSERT_S = 10  # asserted generously on a shared 2-core machine; the figure is reported
FIGURES: dict[str, dict] = {}


def _skip_reason() -> str | None:
    if connection.vendor != "postgresql":
        return "needs PostgreSQL (DATABASE_URL)"
    if not shutil.which("redis-server"):
        return "needs a redis-server binary"
    return None


# --- a redis-server of the test's own ---------------------------------------------------------


class RedisServer:
    """redis-server on a free port, with an append-only file so a restart keeps the queue."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, servers.free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.directory / "redis.log").open("a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert servers.wait_for(self.ping, timeout=10), (self.directory / "redis.log").read_text()

    def ping(self) -> bool:
        try:
            with contextlib.closing(http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)) as conn:
                conn.connect()
                conn.sock.sendall(b"PING\r\n")
                return conn.sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # redis-server flushes its append-only file and exits
            self.process.wait(timeout=15)


# --- the stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    processes: Processes
    db: SharedDatabase
    redis: RedisServer
    base_a: str
    base_b: str
    port_b: int
    webhook: str
    api_token: str
    logins: list[str]
    master_login: str
    copy_key: str
    daphne_b: subprocess.Popen | None = None
    clusters: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, int] = field(default_factory=dict)  # cluster name → generation of its log
    generation: int = 0

    def start_cluster(self, name: str) -> None:
        self.generation += 1
        self.logs[name] = self.generation
        self.clusters[name] = self.processes.start(
            ["manage.py", "qcluster"], f"{name}-{self.generation}", Q_WORKERS="2"
        )

    def kill_cluster(self, name: str) -> None:
        os.killpg(self.clusters[name].pid, signal.SIGKILL)
        self.clusters[name].wait()

    def workers(self, name: str) -> list[int]:
        """PIDs of the cluster's live workers (each logs "ready for work at <pid>")."""
        log = self.processes.logs / f"{name}-{self.logs[name]}.log"
        announced = {int(pid) for pid in re.findall(r"ready for work at (\d+)", log.read_text())}
        alive = []
        for pid in announced:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        return alive


def request(method: str, url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 10):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"text": text[:300].decode(errors="replace")}
    except OSError as error:
        return 0, {"error": repr(error)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, django_db_blocker):
    if reason := _skip_reason():
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("outages")
    with django_db_blocker.unblock():
        db = SharedDatabase(directory, prefix="outages")
    redis = RedisServer(directory)
    redis.start()
    env = servers.service_env(
        DATABASE_URL=db.url,
        REDIS_URL=redis.url,
        WEBHOOK_RATE_LIMIT="100000/m",
        API_RATE_LIMIT="100000/m",
        LOG_LEVEL="INFO",
    )
    processes = Processes(env, directory)
    try:
        done = servers.manage("migrate", "--noinput", env=env)
        assert done.returncode == 0, done.stderr
        _, base_a = processes.daphne(name="daphne-a")
        daphne_b, base_b = processes.daphne(name="daphne-b")
        demo = servers.manage("demo", "--user", "outages", "--accounts", "5", "--base-url", base_a, "--json", env=env)
        assert demo.returncode == 0, demo.stderr
        trader = json.loads(demo.stdout)
        db.rows("UPDATE terminals_tradingaccount SET max_trades_per_hour = 100000")
        accounts = trader["accounts"]
        auth = {"Authorization": f"Token {trader['api_token']}"}
        status, pair = request(
            "POST", f"{base_a}/api/copy/pairs/",
            {"master": accounts[3]["id"], "slave": accounts[4]["id"], "volume_mode": "fixed", "fixed_volume": "0.01"},
            auth,
        )  # fmt: skip
        assert status == 201, pair
        stack = Stack(
            processes, db, redis, base_a, base_b, int(base_b.rsplit(":", 1)[1]), trader["webhook_url"],
            trader["api_token"], [a["login"] for a in accounts[:3]], accounts[3]["login"], pair["api_key"],
        )  # fmt: skip
        stack.daphne_b = daphne_b
        stack.start_cluster("qcluster-1")
        stack.start_cluster("qcluster-2")
        processes.start(["manage.py", "host_agent", "--interval", "1"], "host_agent")
        healthy = servers.wait_for(lambda: request("GET", f"{base_a}/health")[0] == 200, timeout=60)
        assert healthy, request("GET", f"{base_a}/health")
        yield stack
    finally:
        leftover = processes.stop_all()
        redis.stop()
        with django_db_blocker.unblock():
            db.drop()
        if path := os.environ.get("FAULTS_OUTAGES_REPORT"):
            Path(path).write_text(json.dumps(FIGURES, indent=2))
    assert not leftover, leftover


# --- traffic: signals, copy events, health probes, SSE clients ---------------------------------------


@dataclass
class Traffic:
    """Senders that keep sending until stopped, resending what was not acknowledged."""

    stack: Stack
    prefix: str
    signals: dict[str, dict] = field(default_factory=dict)  # id → the 202 body
    copies: dict[str, dict] = field(default_factory=dict)  # master order id → its last 200 body
    resends: Counter = field(default_factory=Counter)  # answer → count, of the sends that were repeated
    health: list[tuple[float, int, list[str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Traffic":
        for target in (self._signals, self._copies, self._probe):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in self.threads), "a sender could not get its last message through"

    def _deliver(self, url: str, body: dict, ok: int, headers: dict | None = None) -> dict:
        """Send until acknowledged (TradingView and the EA resend); a 4xx other than 429 is final."""
        deadline = time.monotonic() + 90
        while True:
            status, reply = request("POST", url, body, headers)
            if status == ok or (400 <= status < 500 and status != 429) or time.monotonic() > deadline:
                return {**reply, "http": status}
            self.resends[status] += 1
            time.sleep(RESEND_AFTER_S)

    def _signals(self) -> None:
        n = 0
        while not self.stop.is_set():
            key = f"{self.prefix}-{n}"
            body = {"action": "buy" if n % 2 else "sell", "symbol": "BTCUSD", "volume": "0.01", "id": key}
            if n % 3:
                body["accounts"] = [self.stack.logins[n % 3]]
            self.signals[key] = self._deliver(self.stack.webhook, body, 202)
            n += 1
            time.sleep(SIGNAL_EVERY_S)

    def _copies(self) -> None:
        url, n = f"{self.stack.base_a}/api/copy/trade", 0
        deal = int(time.time() * 1000) % 10**9 * 100
        open_order = None
        while not self.stop.is_set() or open_order:
            base = {"api_key": self.stack.copy_key, "account": self.stack.master_login}
            deal += 1
            if open_order is None:
                open_order = f"{self.prefix}-c{n}"
                body = {**base, "event": "deal_add", "order_id": open_order, "deal": deal, "symbol": "BTCUSD",
                        "type": "BUY", "volume": 0.01}  # fmt: skip
                self.copies[open_order] = self._deliver(url, body, 200)
            else:
                body = {**base, "event": "deal_close", "order_id": open_order, "deal": deal}
                self.copies[f"{open_order}-close"] = self._deliver(url, body, 200)
                open_order = None
                n += 1
            time.sleep(COPY_EVERY_S)

    def _probe(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            status, body = request("GET", f"{self.stack.base_a}/health", timeout=5)
            self.health.append((time.monotonic() - started, status, body.get("failing", [])))
            time.sleep(0.25)

    def failing_seen(self) -> set[str]:
        return {part for _, status, failing in self.health if status == 503 for part in failing}


class SSEClient(threading.Thread):
    """Reads /events/ and reconnects with Last-Event-ID whenever the stream breaks."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.ids: list[int] = []
        self.reconnects = 0
        self.stopping = threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            headers = {"Authorization": f"Token {self.token}"}
            if self.ids:
                headers["Last-Event-ID"] = str(self.ids[-1])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request("GET", "/events/", headers=headers)
                response = conn.getresponse()
                if response.status != 200:
                    raise OSError(f"status {response.status}")
                self.connected.set()
                while not self.stopping.is_set():
                    line = response.fp.readline()
                    if not line:
                        break
                    if line.startswith(b"id:"):
                        self.ids.append(int(line.split(b":", 1)[1]))
            except (OSError, http.client.HTTPException):
                pass
            if not self.stopping.is_set():
                self.reconnects += 1
                time.sleep(0.2)


# --- assertions -----------------------------------------------------------------------------------


def pending(db: SharedDatabase) -> list[tuple]:
    return db.rows("SELECT id, status, account_id FROM terminals_order WHERE status IN ('queued', 'sending')")


def wait_settled(stack: Stack) -> float:
    started = time.monotonic()
    settled = servers.wait_for(lambda: not pending(stack.db), timeout=SETTLE_TIMEOUT_S, interval=0.2)
    assert settled, f"orders never reached a final state: {pending(stack.db)}"
    return time.monotonic() - started


def assert_nothing_lost_or_doubled(stack: Stack, traffic: Traffic) -> None:
    db = stack.db
    # Every signal sent was acknowledged once and stored once, with one order per target.
    refused = {key: reply for key, reply in traffic.signals.items() if reply["http"] != 202}
    assert not refused, refused
    stored = dict(
        db.rows(f"SELECT idempotency_key, id FROM webhooks_signal WHERE idempotency_key LIKE '{traffic.prefix}-%'")
    )
    assert set(stored) == set(traffic.signals), "a signal was lost or stored twice"
    for key, reply in traffic.signals.items():
        assert reply["signal"] == stored[key], (key, reply)
        orders = sorted(pk for (pk,) in db.rows(f"SELECT id FROM terminals_order WHERE signal_id = {reply['signal']}"))
        assert orders == sorted(o["id"] for o in reply["orders"]), (key, reply, orders)
    # Every copy event was acknowledged and stored once.
    failed = {key: reply for key, reply in traffic.copies.items() if reply["http"] != 200}
    assert not failed, failed
    opened = [k for k in traffic.copies if not k.endswith("-close")]
    events = db.rows(
        f"SELECT order_id, COUNT(*) FROM copytrading_copyevent WHERE order_id LIKE '{traffic.prefix}-c%' "
        "AND kind = 'deal_add' GROUP BY order_id"
    )
    assert sorted(opened) == sorted(k for k, _ in events) and all(n == 1 for _, n in events), events
    # Every order is final; one that did not fill says why (the paper broker requotes when its
    # price moved past the deviation between quote and send, as a loaded machine lets it).
    assert not pending(db)
    unfilled = db.rows("SELECT id, status, status_reason FROM terminals_order WHERE status <> 'filled'")
    assert all(reason for _, _, reason in unfilled), unfilled
    # At most once on the terminals: each client id opened one order, one deal, one position.
    for table, where in (("terminals_simorder", ""), ("terminals_simdeal", "WHERE entry = 0"),
                         ("terminals_simposition", "")):  # fmt: skip
        doubled = db.rows(f"SELECT comment, COUNT(*) FROM {table} {where} GROUP BY comment HAVING COUNT(*) > 1")
        assert not doubled, f"sent twice ({table}): {doubled}"
    filled = db.rows("SELECT COUNT(*) FROM terminals_order WHERE status = 'filled'")[0][0]
    deals = db.rows("SELECT COUNT(*) FROM terminals_simdeal")[0][0]
    assert deals == filled, f"{deals} deals on the terminals for {filled} filled orders"


def wait_health(stack: Stack, timeout: float = 30) -> float:
    started = time.monotonic()
    ok = servers.wait_for(lambda: request("GET", f"{stack.base_a}/health", timeout=5)[0] == 200, timeout, 0.1)
    assert ok, request("GET", f"{stack.base_a}/health")
    return time.monotonic() - started


def resumed_after(stack: Stack, since: float) -> float | None:
    """Seconds from `since` (time.time()) to the first order that reached its final state after it."""
    rows = stack.db.rows(
        f"SELECT EXTRACT(EPOCH FROM MIN(done_at)) FROM terminals_order WHERE done_at >= to_timestamp({since})"
    )
    return float(rows[0][0]) - since if rows and rows[0][0] is not None else None


def record(name: str, traffic: Traffic, **figures) -> None:
    figures.update(
        signals=len(traffic.signals), copy_events=len(traffic.copies), resent=dict(traffic.resends),
        health_failing_seen=sorted(traffic.failing_seen()),
    )  # fmt: skip
    FIGURES[name] = figures
    print(f"\n{name}: {json.dumps(figures)}")


# --- the faults -------------------------------------------------------------------------------------


def test_worker_sigkill_loses_and_doubles_nothing(stack):
    kills = 0
    with Traffic(stack, "wk") as traffic:
        for _ in range(4):
            time.sleep(1.5)
            for name in ("qcluster-1", "qcluster-2"):
                if workers := stack.workers(name):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(workers[-1], signal.SIGKILL)
                        kills += 1
        time.sleep(1)
    settle = wait_settled(stack)
    assert kills >= 4
    assert_nothing_lost_or_doubled(stack, traffic)
    wait_health(stack)
    record("worker_sigkill", traffic, workers_killed=kills, settled_after_s=round(settle, 2))


def test_qcluster_killed_and_restarted_loses_and_doubles_nothing(stack):
    with Traffic(stack, "qc") as traffic:
        time.sleep(2)
        stack.kill_cluster("qcluster-1")
        time.sleep(3)
        stack.start_cluster("qcluster-1")
        time.sleep(2)
    settle = wait_settled(stack)
    assert_nothing_lost_or_doubled(stack, traffic)
    wait_health(stack)
    record("qcluster_restart", traffic, settled_after_s=round(settle, 2))


def test_redis_restart_health_tells_and_work_resumes(stack):
    with Traffic(stack, "rd") as traffic:
        time.sleep(2)
        stack.redis.stop()
        time.sleep(6)
        during = list(traffic.health)
        stack.redis.start()
        back = time.time()
        health_after = wait_health(stack)
        time.sleep(2)
    settle = wait_settled(stack)
    resumed = resumed_after(stack, back)
    assert any(status == 503 and "queue" in failing for _, status, failing in during), during[-5:]
    assert_nothing_lost_or_doubled(stack, traffic)
    assert resumed is not None and resumed < RECOVERY_ASSERT_S, resumed
    record("redis_restart", traffic, work_resumed_after_s=round(resumed, 2), health_200_after_s=round(health_after, 2),
           settled_after_s=round(settle, 2), target_s=RECOVERY_TARGET_S)  # fmt: skip


def _connections_refused(stack: Stack, refused: bool) -> None:
    """This test database only: refuse new connections and drop the ones it has."""
    name = stack.db.name
    admin = SharedDatabase.__new__(SharedDatabase)
    admin.vendor, admin.server, admin.name = "postgresql", stack.db.server, "postgres"
    admin.rows(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"false" if refused else "true"}')
    if refused:
        admin.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )


def test_postgres_connections_dropped_health_tells_and_work_resumes(stack):
    with Traffic(stack, "pg") as traffic:
        time.sleep(2)
        _connections_refused(stack, True)
        try:
            time.sleep(6)
            during = list(traffic.health)
        finally:
            _connections_refused(stack, False)
        back = time.time()
        health_after = wait_health(stack)
        time.sleep(2)
    settle = wait_settled(stack)
    resumed = resumed_after(stack, back)
    assert any(status == 503 and "database" in failing for _, status, failing in during), during[-5:]
    assert_nothing_lost_or_doubled(stack, traffic)
    assert resumed is not None and resumed < RECOVERY_ASSERT_S, resumed
    record("postgres_dropped", traffic, work_resumed_after_s=round(resumed, 2),
           health_200_after_s=round(health_after, 2), settled_after_s=round(settle, 2),
           target_s=RECOVERY_TARGET_S)  # fmt: skip


def test_daphne_restart_sse_clients_catch_up_with_last_event_id(stack):
    clients = [SSEClient(stack.port_b, stack.api_token) for _ in range(3)]
    for client in clients:
        client.start()
    assert all(client.connected.wait(10) for client in clients)
    with Traffic(stack, "sse") as traffic:
        time.sleep(2)
        servers.stop(stack.daphne_b)
        time.sleep(2)
        stack.processes.started.remove(stack.daphne_b)
        stack.daphne_b, _ = stack.processes.daphne(port=stack.port_b, name="daphne-b-2")
        time.sleep(3)
    wait_settled(stack)
    owner = stack.db.rows("SELECT id FROM accounts_user WHERE username = 'outages'")[0][0]
    last = stack.db.rows(f"SELECT MAX(id) FROM live_event WHERE owner_id = {owner}")[0][0]
    assert servers.wait_for(lambda: all(c.ids and c.ids[-1] >= last for c in clients), timeout=20)
    for client in clients:
        client.stopping.set()  # the daemon threads end with their next line
    assert_nothing_lost_or_doubled(stack, traffic)
    for client in clients:
        first = client.ids[0]
        expected = [i for (i,) in stack.db.rows(
            f"SELECT id FROM live_event WHERE owner_id = {owner} AND id >= {first} AND id <= {last} ORDER BY id"
        )]  # fmt: skip
        got = sorted(set(i for i in client.ids if first <= i <= last))  # a resume may replay older ones too
        assert got == expected, f"missed {sorted(set(expected) - set(got))[:10]}"
        assert client.reconnects >= 1
    # Live events arrive in commit order, not id order, so a resume replays the events created
    # just before Last-Event-ID (at least once; clients keep events by id): counted here.
    record("daphne_restart", traffic, sse_clients=len(clients), events_each=len(set(clients[0].ids)),
           reconnects=[c.reconnects for c in clients],
           delivered_again=[len(c.ids) - len(set(c.ids)) for c in clients])  # fmt: skip
