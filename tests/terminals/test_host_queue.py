"""A request crosses to a host's own qcluster and back: real processes, real queue (and, where
a test needs no second process, django-q2's own in-process run of the queued task)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django_q.conf import Conf
from django_q.signals import pre_enqueue

from mt5saas.crypto import encrypt
from terminals.drivers.base import TerminalError
from terminals.gateway import host_call
from terminals.models import TerminalHost
from tests import servers
from tests.factories import TradingAccountFactory


@contextmanager
def tasks_in_process(monkeypatch) -> Iterator[list[dict]]:
    """Every task handed to a queue runs at once in this process, as a worker would run it
    (django-q2's sync mode); the list collects the tasks as they were enqueued."""
    monkeypatch.setattr(Conf, "SYNC", True)
    enqueued: list[dict] = []

    def record(sender, task, **kwargs) -> None:
        enqueued.append(task)

    pre_enqueue.connect(record, weak=False, dispatch_uid="tasks_in_process")
    try:
        yield enqueued
    finally:
        pre_enqueue.disconnect(dispatch_uid="tasks_in_process")


@pytest.fixture
def queue_in_process(monkeypatch) -> Iterator[list[dict]]:
    with tasks_in_process(monkeypatch) as enqueued:
        yield enqueued


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


@pytest.mark.django_db
def test_host_call_gives_the_task_the_moment_it_stops_waiting(queue_in_process, alice):
    host = TerminalHost.objects.create(name="win-q", queue_name="win-q", kind="windows", online=True)
    account = TradingAccountFactory(owner=alice, login="8500002", password=encrypt("pw-q"))
    before = time.time()

    info = host_call(host, "terminals.tasks.terminal_read", account.pk, "account_info", {}, timeout=7)

    [task] = queue_in_process
    assert info.login == 8500002
    assert (task["func"], task["cluster"]) == ("terminals.tasks.terminal_read", "win-q")
    assert before + 7 <= task["kwargs"]["deadline"] <= time.time() + 7
