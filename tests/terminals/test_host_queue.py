"""A request crosses to a host's own qcluster and back: real processes, real queue."""

import pytest

from terminals.drivers.base import TerminalError
from terminals.gateway import host_call
from terminals.models import TerminalHost
from tests import servers


@pytest.fixture
def host_worker(tmp_path, settings):
    """A qcluster reading the queue of host "win-test", on a database both processes share."""
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("needs a database another process can see: runs on PostgreSQL in .ci/run")
    env = servers.service_env(
        Q_CLUSTER_NAME="win-test",
        DATABASE_URL=servers.test_database_url(connection),
    )
    worker = servers.start(["manage.py", "qcluster"], env, tmp_path / "qcluster.log")
    yield TerminalHost.objects.create(name="win-test", queue_name="win-test", kind="windows", online=True)
    servers.stop(worker)


@pytest.mark.django_db(transaction=True)
def test_host_call_runs_on_the_hosts_queue_and_carries_errors_back(host_worker):
    from mt5saas.crypto import encrypt

    info = host_call(host_worker, "terminals.tasks.verify_credentials", "simulated", "8500001",
                     encrypt("pw-host"), "SimStandard-Demo", timeout=60)  # fmt: skip
    with pytest.raises(TerminalError) as refused:
        host_call(host_worker, "terminals.tasks.verify_credentials", "simulated", "8500001",
                  encrypt("wrong"), "SimStandard-Demo", timeout=60)  # fmt: skip

    assert info.login == 8500001 and info.balance == 10000
    assert refused.value.code == -6 and "invalid account or password" in refused.value.message


@pytest.mark.django_db
def test_host_call_to_a_host_nobody_serves_times_out_as_terminal_error():
    host = TerminalHost.objects.create(name="silent", queue_name="silent", kind="windows", online=True)

    with pytest.raises(TerminalError) as silent:
        host_call(host, "terminals.tasks.terminal_read", 1, "positions", {}, timeout=0.5)

    assert silent.value.code == -10005 and "did not answer within 0.5 s" in silent.value.message
