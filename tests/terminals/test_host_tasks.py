"""Host-side tasks run as the host's qcluster runs them (in process here; across the real
queue in test_host_queue.py)."""

import os

import pytest

from mt5saas.crypto import encrypt
from terminals import tasks
from terminals.instances import instance_status, instance_stop
from terminals.models import TerminalHost
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.test_instances import mt5_install

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-tasks")
    root = tmp_path / "instances"
    root.mkdir()
    return TerminalHost.objects.create(
        name="win-tasks", queue_name="win-tasks", kind="windows", online=True, instance_root=str(root)
    )


@pytest.mark.django_db
def test_instance_action_creates_starts_and_stops_a_portable_terminal(host, tmp_path, settings, alice):
    settings.MT5_INSTALL_DIR = str(mt5_install(tmp_path / "MetaTrader 5"))
    account = TradingAccountFactory(owner=alice, host=host, kind="mt5", login="8700001")
    root = tmp_path / "instances"
    try:
        started = tasks.instance_action(account.pk, "start")
        running = instance_status(root=root, login="8700001")
        stopped = tasks.instance_action(account.pk, "stop")
    finally:
        instance_stop(root=root, login="8700001", timeout=0)

    assert started[0] == "ok" and running.running and running.pid == started[1]
    assert stopped == ("ok", "stopped")
    assert tasks.instance_action(account.pk, "explode") == ("error", -2, "unknown action 'explode'")


@pytest.mark.django_db
def test_instance_action_without_an_installation_is_an_error_answer(host, tmp_path, settings, alice):
    settings.MT5_INSTALL_DIR = str(tmp_path / "nowhere")
    account = TradingAccountFactory(owner=alice, host=host, kind="mt5", login="8700002")

    status, code, message = tasks.instance_action(account.pk, "start")

    assert (status, code) == ("error", -1) and message


@pytest.mark.django_db
def test_ea_bridge_credentials_are_verified_against_the_eas_terminal(host, tmp_path):
    ea_bridge_driver(tmp_path / "instances", login=8700003, password="pw", server="SimBroker-Demo")

    ok = tasks.verify_credentials("ea_bridge", "8700003", encrypt("pw"), "SimBroker-Demo")
    elsewhere = tasks.verify_credentials("ea_bridge", "8700004", encrypt("pw"), "SimBroker-Demo")

    assert ok[0] == "ok" and ok[1].login == 8700003
    assert elsewhere[0] == "error"


@pytest.mark.django_db
def test_a_process_that_is_no_registered_host_says_so(monkeypatch):
    monkeypatch.delenv("Q_CLUSTER_NAME", raising=False)

    status, code, message = tasks.verify_credentials("ea_bridge", "1", encrypt("pw"), "SimBroker-Demo")

    assert (status, code) == ("error", -7) and "not a registered host" in message
