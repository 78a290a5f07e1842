"""Host-side tasks run as the host's qcluster runs them (in process here; across the real
queue in test_host_queue.py)."""

import os
import time

import pytest

from mt5saas.crypto import encrypt
from terminals import tasks
from terminals.instances import instance_status, instance_stop
from terminals.models import TerminalHost
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.test_instances import mt5_install

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")

PASSWORD, GUESS = "Real-pw-8700003", "Guess-pw-8700003"


def in_time() -> float:
    return time.time() + 30


def too_late() -> float:
    return time.time() - 1


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-tasks")
    root = tmp_path / "instances"
    root.mkdir()
    return TerminalHost.objects.create(
        name="win-tasks", queue_name="win-tasks", kind="windows", online=True, instance_root=str(root)
    )


@pytest.fixture
def ea_terminal(host, tmp_path):
    """Login 8700003's portable instance on the host, its EA polling in its own thread."""
    _, ea = ea_bridge_driver(tmp_path / "instances", login=8700003, password=PASSWORD, threaded=True, instance=True)
    yield ea
    ea.close()


@pytest.mark.django_db
def test_instance_action_creates_starts_and_stops_a_portable_terminal(host, tmp_path, settings, alice):
    settings.MT5_INSTALL_DIR = str(mt5_install(tmp_path / "MetaTrader 5"))
    account = TradingAccountFactory(owner=alice, host=host, kind="mt5", login="8700001")
    root = tmp_path / "instances"
    try:
        started = tasks.instance_action(account.pk, "start", deadline=in_time())
        running = instance_status(root=root, login="8700001")
        stopped = tasks.instance_action(account.pk, "stop", deadline=in_time())
    finally:
        instance_stop(root=root, login="8700001", timeout=0)

    assert started[0] == "ok" and running.running and running.pid == started[1]
    assert stopped == ("ok", "stopped")
    assert tasks.instance_action(account.pk, "explode", deadline=in_time()) == ("error", -2, "unknown action 'explode'")


@pytest.mark.django_db
def test_instance_action_after_its_deadline_does_nothing(host, tmp_path, settings, alice):
    settings.MT5_INSTALL_DIR = str(mt5_install(tmp_path / "MetaTrader 5"))
    account = TradingAccountFactory(owner=alice, host=host, kind="mt5", login="8700005")

    late = tasks.instance_action(account.pk, "start", deadline=too_late())

    status, code, message = late
    assert (status, code) == ("error", -10005) and "expired" in message
    assert instance_status(root=tmp_path / "instances", login="8700005").exists is False


@pytest.mark.django_db
def test_instance_action_without_an_installation_is_an_error_answer(host, tmp_path, settings, alice):
    settings.MT5_INSTALL_DIR = str(tmp_path / "nowhere")
    account = TradingAccountFactory(owner=alice, host=host, kind="mt5", login="8700002")

    status, code, message = tasks.instance_action(account.pk, "start", deadline=in_time())

    assert (status, code) == ("error", -1) and message


@pytest.mark.django_db(transaction=True)
def test_ea_bridge_credentials_are_verified_by_logging_the_terminal_in(host, ea_terminal, tmp_path):
    instance = tmp_path / "instances" / "8700003"

    wrong = tasks.verify_credentials("ea_bridge", "8700003", encrypt(GUESS), "SimBroker-Demo", deadline=in_time())
    stopped_after_refusal = not instance_status(root=instance.parent, login="8700003").running
    ok = tasks.verify_credentials("ea_bridge", "8700003", encrypt(PASSWORD), "SimBroker-Demo", deadline=in_time())
    running = instance_status(root=instance.parent, login="8700003").running

    leaked = GUESS in str(wrong) or PASSWORD in str(wrong)
    assert not leaked
    assert wrong == ("error", -6, "Authorization failed: Invalid account") and stopped_after_refusal
    assert ok[0] == "ok" and (ok[1].login, ok[1].balance) == (8700003, 10000) and running
    assert ea_terminal.config_modes == [0o600, 0o600]
    assert sorted(p.name for p in instance.glob("login-*")) == []


@pytest.mark.django_db(transaction=True)
def test_credentials_after_their_deadline_touch_no_terminal(host, ea_terminal, tmp_path):
    late = tasks.verify_credentials("ea_bridge", "8700003", encrypt(PASSWORD), "SimBroker-Demo", deadline=too_late())

    status, code, message = late
    assert (status, code) == ("error", -10005) and "expired" in message
    assert ea_terminal.config_modes == []
    assert not instance_status(root=tmp_path / "instances", login="8700003").running


@pytest.mark.django_db
def test_terminal_read_in_time_answers_and_after_its_deadline_is_refused(host, tmp_path, alice):
    ea_bridge_driver(tmp_path / "instances", login=8700006, password=PASSWORD)
    account = TradingAccountFactory(
        owner=alice, host=host, kind="ea_bridge", login="8700006", password=encrypt(PASSWORD)
    )

    answered = tasks.terminal_read(account.pk, "symbol_infos", {"symbols": ["GOLD"]}, deadline=in_time())
    late = tasks.terminal_read(account.pk, "symbol_infos", {}, deadline=too_late())

    assert answered[0] == "ok" and [info.name for info in answered[1]] == ["GOLD"]
    assert late[:2] == ("error", -10005) and "expired" in late[2]


@pytest.mark.django_db
def test_login_registered_for_another_server_keeps_its_terminal(host, tmp_path, alice):
    TradingAccountFactory(owner=alice, host=host, kind="ea_bridge", login="8700007", server="SimStandard-Demo")

    status, code, message = tasks.verify_credentials(
        "ea_bridge", "8700007", encrypt(PASSWORD), "SimBroker-Demo", deadline=in_time()
    )

    assert (status, code) == ("error", -2) and "already has a terminal on this host" in message
    assert not (tmp_path / "instances" / "8700007").exists()


@pytest.mark.django_db
def test_a_process_that_is_no_registered_host_says_so(monkeypatch):
    monkeypatch.delenv("Q_CLUSTER_NAME", raising=False)

    status, code, message = tasks.verify_credentials(
        "ea_bridge", "1", encrypt("pw"), "SimBroker-Demo", deadline=in_time()
    )

    assert (status, code) == ("error", -7) and "not a registered host" in message


def waiting_ea_account(owner, password: str):
    """Registered while no Windows host was online: stored unassigned, its password unproven."""
    return TradingAccountFactory(
        owner=owner,
        kind="ea_bridge",
        login="8700003",
        server="SimBroker-Demo",
        password=encrypt(password),
        host=None,
        status="unassigned",
    )


@pytest.mark.django_db(transaction=True)  # the simulated EA's thread writes the paper broker
def test_the_agent_logs_in_an_ea_account_it_takes_over_once(host, ea_terminal, tmp_path, alice, settings):
    from terminals.agent import HostAgent
    from terminals.drivers import open_driver

    settings.EA_LOGIN_TIMEOUT_S = 20
    account = waiting_ea_account(alice, PASSWORD)
    agent = HostAgent(host=host, open_driver=open_driver)

    agent.tick()
    account.refresh_from_db()
    first = instance_status(root=tmp_path / "instances", login="8700003")
    agent.tick()
    again = instance_status(root=tmp_path / "instances", login="8700003")

    assert account.status == "online" and account.balance == 10000 and account.logged_in_host_id == host.pk
    assert ea_terminal.config_modes == [0o600]  # one login, from the start-up configuration
    assert first.running and again.pid == first.pid  # the next round attaches, it does not log in again


@pytest.mark.django_db(transaction=True)
def test_an_ea_account_taken_over_with_a_wrong_password_is_refused_not_retried(host, ea_terminal, tmp_path, alice):
    from terminals.agent import HostAgent
    from terminals.drivers import open_driver

    account = waiting_ea_account(alice, GUESS)
    agent = HostAgent(host=host, open_driver=open_driver)

    agent.tick()
    agent.tick()
    account.refresh_from_db()

    assert account.status == "error" and account.status_reason.startswith("Authorization failed")
    assert account.logged_in_host_id is None and GUESS not in account.status_reason
    assert ea_terminal.config_modes == [0o600]  # refused once; an account in error is not retried
    assert not instance_status(root=tmp_path / "instances", login="8700003").running
