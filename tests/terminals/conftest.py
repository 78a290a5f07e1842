"""Fixtures of the terminal tests that start session processes."""

import pytest

from tests import servers


@pytest.fixture(scope="module")
def children_database(tmp_path_factory) -> str:
    """A migrated SQLite file for the session processes a test module spawns."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sessions') / 'db.sqlite3'}"
    migrated = servers.manage("migrate", "--noinput", env=servers.service_env(DATABASE_URL=url))
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.fixture
def children_env(children_database, monkeypatch) -> None:
    # Inherited by every session this test spawns.
    monkeypatch.setenv("DATABASE_URL", children_database)
