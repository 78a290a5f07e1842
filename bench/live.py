"""Live events: publish → client receipt, and fan-out to 1,000 SSE clients of 100 users.

    python -m bench live [--events 300] [--clients 1000] [--users 100]

Rows (loopback only, a throwaway SQLite database in a temp dir):
- one process: the ASGI application, the in-memory channel layer, the publisher and an SSE
  client all in this process; publish_many() (stored, then sent after commit) → the event
  read from the response stream.
- through Redis (when redis://127.0.0.1:6379 answers): a daphne process with the Redis
  channel layer, this process publishing through Redis, the client reading over HTTP.
- fan-out: one daphne process (in-memory layer), --clients SSE connections spread over
  --users traders; this process stores events for every trader and daphne's relay delivers
  them. Asserts that no client receives another trader's event.
"""

import asyncio
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import redis
from asgiref.sync import sync_to_async
from django.test import override_settings

from bench import rows as bench_rows
from bench.rows import percentile
from mt5saas.asgi import application
from mt5saas.events import events_flush, publish_many
from tests.servers import manage, service_env, start_daphne, stop

MB = 1024 * 1024
USERS_SCRIPT = (
    "import json; from accounts.models import User; from accounts.services import api_token_create; "
    "users = [User.objects.get_or_create(username=f'live{{n}}', defaults={{'email': f'live{{n}}@bench.test'}})[0] "
    "for n in range({count})]; "
    "print(json.dumps([[u.pk, api_token_create(user=u)] for u in users]))"
)


EXPORTED: list[dict] = []  # the rows, for `python -m bench`


def row(name: str, times: list[float], seconds: float, peak_mb: float, note: str = "", baseline: bool = False) -> None:
    EXPORTED.append(
        bench_rows.row(
            name, times, per_second=len(times) / seconds, peak_bytes=int(peak_mb * MB), baseline=baseline, note=note
        )
    )
    ordered = sorted(times)
    print(
        f"{name:<34} {len(ordered):>6} {statistics.median(ordered):>9.2f} {percentile(ordered, 95):>8.2f} "
        f"{percentile(ordered, 99):>8.2f} {len(ordered) / seconds:>9.1f} {peak_mb:>9.1f}  {note}"
    )


async def read_events(reader: asyncio.StreamReader, on_event) -> None:
    """Parses an SSE response body (chunked transfer) line by line."""
    block: dict[str, str] = {}
    while line := await reader.readline():
        text = line.decode().rstrip("\r\n")
        if text.startswith(("id: ", "data: ")):
            name, value = text.split(": ", 1)
            block[name] = value
        elif text == "" and "data" in block:
            on_event(json.loads(block["data"]))
            block = {}


async def open_sse(port: int, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /events/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {key}\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"GET /events/ answered {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return reader, writer


# --- setup ----------------------------------------------------------------------------------


def migrate(env: dict[str, str]) -> None:
    done = manage("migrate", "--noinput", env=env)
    if done.returncode:
        raise SystemExit(done.stderr)


def make_users(env: dict[str, str], count: int) -> list[tuple[int, str]]:
    done = manage("shell", "-c", USERS_SCRIPT.format(count=count), env=env)
    if done.returncode:
        raise SystemExit(done.stderr)
    return [tuple(pair) for pair in json.loads(done.stdout.strip().splitlines()[-1])]


# --- rows -------------------------------------------------------------------------------------


async def one_process(user_id: int, key: str, count: int) -> tuple[list[float], float]:
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/events/", "raw_path": b"/events/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Token {key}".encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await inbox.put({"type": "http.request", "body": b""})
    task = asyncio.ensure_future(application(scope, inbox.get, outbox.put))
    await outbox.get()  # response start
    await outbox.get()  # "connected"
    publish = sync_to_async(publish_many)
    times = []
    started = time.perf_counter()
    for n in range(count):
        sent = time.perf_counter()
        await publish(user_id, [("order", {"id": n, "user": user_id})])
        while True:  # skip heartbeats
            body = (await asyncio.wait_for(outbox.get(), 10))["body"]
            if body.startswith(b"id:"):
                break
        times.append((time.perf_counter() - sent) * 1000)
    seconds = time.perf_counter() - started
    await inbox.put({"type": "http.disconnect"})
    await asyncio.wait_for(task, 5)
    return times, seconds


async def through_redis(port: int, user_id: int, key: str, count: int) -> tuple[list[float], float]:
    reader, writer = await open_sse(port, key)
    got: asyncio.Queue = asyncio.Queue()
    reading = asyncio.ensure_future(read_events(reader, got.put_nowait))

    def publish(n: int) -> None:
        publish_many(user_id, [("order", {"id": n, "user": user_id})])
        events_flush()

    times = []
    started = time.perf_counter()
    for n in range(count):
        sent = time.perf_counter()
        await sync_to_async(publish)(n)
        while (await asyncio.wait_for(got.get(), 10)).get("id") != n:
            pass
        times.append((time.perf_counter() - sent) * 1000)
    seconds = time.perf_counter() - started
    reading.cancel()
    writer.close()
    return times, seconds


async def fanout(port: int, daphne: psutil.Process, users: list[tuple[int, str]], clients: int, rounds: int):
    before = daphne.memory_info().rss
    owner_of: list[int] = []
    received: list[list[dict]] = [[] for _ in range(clients)]
    connections = []
    for n in range(clients):
        user_id, key = users[n % len(users)]
        connections.append(await open_sse(port, key))
        owner_of.append(user_id)
    await asyncio.sleep(1)
    connected = daphne.memory_info().rss
    sent_at: dict[tuple[int, int], float] = {}
    latencies: list[float] = []

    def on_event(n: int):
        def handle(data: dict) -> None:
            received[n].append(data)
            if not data.get("fanout"):
                return  # a late event of the rows above
            if (key := (data.get("user"), data.get("id"))) in sent_at:
                latencies.append((time.perf_counter() - sent_at[key]) * 1000)

        return handle

    readers = [asyncio.ensure_future(read_events(r, on_event(n))) for n, (r, _) in enumerate(connections)]
    started = time.perf_counter()
    peak = connected
    for r in range(rounds):
        for user_id, _ in users:
            sent_at[(user_id, r)] = time.perf_counter()
            await sync_to_async(publish_many)(user_id, [("order", {"id": r, "user": user_id, "fanout": True})])
        peak = max(peak, daphne.memory_info().rss)
    expected = rounds * clients
    deadline = time.monotonic() + 60

    def fanout_count() -> int:
        return sum(1 for events in received for d in events if d.get("fanout"))

    while fanout_count() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        peak = max(peak, daphne.memory_info().rss)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.cancel()
    for _, writer in connections:
        writer.close()
    leaks = [(n, d) for n, events in enumerate(received) for d in events if d.get("user") != owner_of[n]]
    assert not leaks, f"{len(leaks)} events reached another user's client, e.g. {leaks[0]}"
    missing = expected - fanout_count()
    assert missing == 0, f"{missing} of {expected} events not received"
    return latencies, seconds, (connected - before) / clients, peak


def run(args, directory: Path, env: dict[str, str]) -> None:
    migrate(env)
    users = make_users(env, args.users)
    print(f"\nLive events bench: python {sys.version.split()[0]}, {os.cpu_count()} CPUs; publish → SSE client receipt")
    header = f"{'':<34} {'n':>6} {'median ms':>9} {'p95 ms':>8} {'p99 ms':>8} {'events/s':>9} {'peak MB':>9}  note"
    print(header + "\n" + "-" * len(header))
    times, seconds = asyncio.run(one_process(*users[0], args.events))
    row("one process (in-memory layer)", times, seconds, psutil.Process().memory_info().rss / MB, "this process")
    redis_row(args, directory, env, users[0])
    fanout_rows(args, directory, env, users)
    bench_rows.export("live", "Live events: publish → SSE client receipt", EXPORTED)


def redis_answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except Exception:  # noqa: BLE001 - no Redis: the row says so
        return False


def redis_row(args, directory: Path, env: dict[str, str], user: tuple[int, str]) -> None:
    """A daphne process on the Redis channel layer, this process publishing through Redis."""
    if not redis_answers(args.redis_url):
        print(f"{'through Redis':<34} skipped: nothing answers at {args.redis_url}")
        return
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [args.redis_url]}}}
    daphne, base = start_daphne({**env, "REDIS_URL": args.redis_url}, directory / "daphne-redis.log")
    try:
        with override_settings(CHANNEL_LAYERS=layers):
            times, seconds = asyncio.run(through_redis(urlsplit(base).port, *user, args.events))
        rss = psutil.Process(daphne.pid).memory_info().rss / MB
        row("through Redis (daphne process)", times, seconds, rss, "peak MB: daphne")
    finally:
        stop(daphne)


def fanout_rows(args, directory: Path, env: dict[str, str], users: list[tuple[int, str]]) -> None:
    """One daphne process (in-memory layer): its bare /health, then the fan-out its relay delivers."""
    daphne, base = start_daphne(service_env(**{**env, "REDIS_URL": ""}), directory / "daphne-fanout.log")
    try:
        process, port = psutil.Process(daphne.pid), urlsplit(base).port
        times, seconds = health_times(port, 200)
        row("GET /health, fan-out daphne", times, seconds, process.memory_info().rss / MB,
            "503 (no qcluster here): the same path and checks", baseline=True)  # fmt: skip
        latencies, seconds, per_connection, peak = asyncio.run(fanout(port, process, users, args.clients, args.rounds))
        row(
            f"fan-out: {args.clients} clients, {args.users} users",
            latencies,
            seconds,
            peak / MB,
            f"daphne, relay-delivered; {per_connection / 1024:.1f} KiB per connection; no cross-user event",
        )
    finally:
        stop(daphne)


def health_times(port: int, count: int) -> tuple[list[float], float]:
    """Bare GET /health on one keep-alive connection, whatever it answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    started = time.perf_counter()
    for _ in range(count):
        sent = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        times.append((time.perf_counter() - sent) * 1000)
    connection.close()
    return times[10:], time.perf_counter() - started

