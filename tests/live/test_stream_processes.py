"""Real daphne processes: the per-user stream limit holds across two of them through Redis, and a
key revoked by another process ends an open stream within LIVE_AUTH_RECHECK_S."""

import http.client
import json
import shutil
import time
from urllib.parse import urlsplit

import pytest

from tests import servers
from tests.servers import SharedDatabase
from tests.test_fault_outages import RedisServer

REVOKE = (
    "from knox.models import AuthToken; from accounts.models import User; "
    "AuthToken.objects.filter(user=User.objects.get(username='live')).delete()"
)


def open_stream(base: str, key: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("GET", "/events/", headers={"Authorization": f"Token {key}"})
    return connection, connection.getresponse()


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs a redis-server binary")
@pytest.mark.django_db
def test_two_daphne_processes_share_the_limit_and_a_revoked_key_ends_the_stream(tmp_path):
    database, redis = SharedDatabase(tmp_path), RedisServer(tmp_path)
    redis.start()
    env = servers.service_env(
        DATABASE_URL=database.url, REDIS_URL=redis.url, LIVE_STREAMS_PER_USER="2", LIVE_AUTH_RECHECK_S="1"
    )
    started = []
    try:
        assert servers.manage("migrate", "--noinput", env=env).returncode == 0
        demo = servers.manage("demo", "--user", "live", "--accounts", "1", "--json", env=env)
        assert demo.returncode == 0, demo.stderr
        key = json.loads(demo.stdout)["api_token"]
        for name in ("a", "b"):
            started.append(servers.start_daphne(env, tmp_path / f"daphne-{name}.log"))
        (_, base_a), (_, base_b) = started

        first = open_stream(base_a, key)
        second = open_stream(base_b, key)
        third = open_stream(base_a, key)  # one on each process already: the third is refused
        assert (first[1].status, second[1].status, third[1].status) == (200, 200, 429)
        assert "LIVE_STREAMS_PER_USER" in json.loads(third[1].read())["detail"]
        first[1].readline()  # "retry: 2000": the stream is going

        revoked_at = time.monotonic()
        assert servers.manage("shell", "-c", REVOKE, env=env).returncode == 0
        rest = first[1].read()  # returns when the server ends the response
        ended_after = time.monotonic() - revoked_at
        assert b": ended: The API key was revoked or replaced." in rest
        assert ended_after < 1 + 5  # the re-check interval, and a start-up of manage.py's margin
        for connection, _ in (first, second, third):
            connection.close()
        logs = "".join((tmp_path / f"daphne-{name}.log").read_text() for name in ("a", "b"))
        assert key not in logs and "Traceback" not in logs
    finally:
        for process, _ in started:
            servers.stop(process)
        redis.stop()
        database.drop()
