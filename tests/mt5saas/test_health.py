"""/health tells the truth: in-process for the parts, and with real daphne and qcluster
processes for a running cluster, a stopped cluster and an unreachable database."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests import servers


@pytest.mark.django_db
def test_health_without_a_qcluster_is_503_naming_the_queue(client):
    response = client.get("/health")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["queue"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["queue"]["clusters"] == 0
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_webhook_health_is_the_same_report(client):
    assert client.get("/webhook/health").json()["checks"].keys() == client.get("/health").json()["checks"].keys()


def cache_tables(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%cache%'")
        return [name for (name,) in rows]


def test_health_is_200_with_a_running_qcluster_and_503_after_it_stops(tmp_path):
    # `migrate` alone, as on a fresh clone: no createcachetable (the test database pytest-django
    # makes gets Django's createcachetable, so only a database of our own shows the migration).
    env = servers.service_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL="")
    assert servers.manage("migrate", "--noinput", env=env).returncode == 0
    assert cache_tables(tmp_path / "db.sqlite3") == ["mt5saas_shared_cache"]
    cluster = servers.start(["manage.py", "qcluster"], env, tmp_path / "qcluster.log")
    daphne, base = servers.start_daphne(env, tmp_path / "daphne.log")
    try:
        healthy = servers.wait_for(lambda: servers.get_json(f"{base}/health")[0] == 200, timeout=60)
        _, body = servers.get_json(f"{base}/health")
        assert healthy, body
        assert body["status"] == "ok" and body["checks"]["queue"]["clusters"] >= 1

        servers.stop(cluster)
        failing = servers.wait_for(lambda: servers.get_json(f"{base}/health")[0] == 503, timeout=30)
        _, body = servers.get_json(f"{base}/health")
        assert failing and body["failing"] == ["queue"], body
    finally:
        servers.stop(cluster)
        servers.stop(daphne)


def test_migrate_keeps_a_cache_table_createcachetable_made_before(tmp_path):
    env = servers.service_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL="")
    assert servers.manage("createcachetable", env=env).returncode == 0  # as the README said before

    migrated = servers.manage("migrate", "--noinput", env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert cache_tables(tmp_path / "db.sqlite3") == ["mt5saas_shared_cache"]


def test_health_is_503_naming_the_database_when_it_is_unreachable(tmp_path):
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    env = servers.service_env(DATABASE_URL="postgres://postgres@127.0.0.1:9/test", REDIS_URL="")
    daphne, base = servers.start_daphne(env, tmp_path / "daphne.log")
    try:
        status, body = servers.get_json(f"{base}/health")
    finally:
        servers.stop(daphne)

    assert status == 503
    assert "database" in body["failing"]
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["channel_layer"]["ok"] is True
    assert "postgres://" not in (tmp_path / "daphne.log").read_text()
