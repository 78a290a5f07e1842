"""An event published in another process (a qcluster worker, the host agent) reaches a
daphne process's SSE client: through Redis groups when REDIS_URL is set, and through the
relay that tails the event table with the embedded in-memory layer. Real processes."""

import http.client
import json
import os
import queue
import threading
from urllib.parse import urlsplit

import pytest

from tests import servers
from tests.test_faults import SharedDatabase

REDIS_URL = os.environ.get("REDIS_URL", "")
PUBLISH = (
    "from accounts.models import User; from mt5saas.events import publish_many, events_flush; "
    "user = User.objects.get(username='live'); "
    "publish_many(user.pk, [('copy_event', {{'id': {order}}}), ('order', {{'id': {order}, 'status': 'filled'}})]); "
    "assert events_flush()"
)


def follow(base: str, key: str, received: queue.Queue, since: int = 0) -> http.client.HTTPConnection:
    """Reads the stream on a thread; each event's (id, data) goes to `received`."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Authorization": f"Token {key}"}
    if since:
        headers["Last-Event-ID"] = str(since)
    connection.request("GET", "/events/", headers=headers)
    response = connection.getresponse()
    assert response.status == 200, response.read()

    def read() -> None:
        block: dict[str, str] = {}
        try:
            for raw in response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "data" in block:
                        received.put((int(block["id"]), json.loads(block["data"])))
                    block = {}
                elif not line.startswith(":") and ": " in line:
                    name, value = line.split(": ", 1)
                    block[name] = value
        except (OSError, ValueError, AttributeError):
            pass  # the test closed the connection

    threading.Thread(target=read, daemon=True).start()
    return connection


def next_order(received: queue.Queue, order: int) -> tuple[int, dict, list[dict]]:
    """The order's event, and what came before it (the demo's own account events may)."""
    before = []
    while True:
        event_id, data = received.get(timeout=10)
        if data.get("type") == "order" and data.get("id") == order:
            return event_id, data, before
        before.append(data)


@pytest.mark.parametrize(
    "redis_url",
    [
        pytest.param("", id="in-memory-layer-relay"),
        pytest.param(
            REDIS_URL, id="redis", marks=pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (.ci/run stage 2)")
        ),
    ],
)
@pytest.mark.django_db
def test_a_worker_process_event_reaches_a_daphne_sse_client(tmp_path, redis_url):
    database = SharedDatabase(tmp_path)
    env = servers.service_env(DATABASE_URL=database.url, REDIS_URL=redis_url)
    daphne = None
    try:
        done = servers.manage("migrate", "--noinput", env=env)
        assert done.returncode == 0, done.stderr
        demo = servers.manage("demo", "--user", "live", "--accounts", "1", "--json", env=env)
        assert demo.returncode == 0, demo.stderr
        key = json.loads(demo.stdout)["api_token"]
        daphne, base = servers.start_daphne(env, tmp_path / "daphne.log")
        received: queue.Queue = queue.Queue()
        connection = follow(base, key, received)

        worker = servers.manage("shell", "-c", PUBLISH.format(order=41), env=env)
        assert worker.returncode == 0, worker.stderr
        event_id, data, before = next_order(received, 41)
        assert data["event_id"] == event_id and data["status"] == "filled"
        # Both events of the worker's one publish, each in its own frame, in order.
        assert before[-1]["type"] == "copy_event" and before[-1]["event_id"] == event_id - 1
        connection.close()

        # Published while nobody listened: a client resuming from the last id gets it.
        worker = servers.manage("shell", "-c", PUBLISH.format(order=42), env=env)
        assert worker.returncode == 0, worker.stderr
        again: queue.Queue = queue.Queue()
        connection = follow(base, key, again, since=event_id)
        later_id, data, before = next_order(again, 42)
        # A resume replays the events created just before its id (one may have committed
        # after it), never that id itself: at least once, each id once per stream.
        replayed = [d["event_id"] for d in before]
        assert later_id > event_id and event_id not in replayed and len(set(replayed)) == len(replayed)
        with pytest.raises(queue.Empty):
            again.get(timeout=0.6)  # once, not again through the relay or the layer
        connection.close()
        log = (tmp_path / "daphne.log").read_text()
        assert key not in log and "Traceback" not in log
    finally:
        if daphne is not None:
            servers.stop(daphne)
        database.drop()
