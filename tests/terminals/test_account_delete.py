"""Deleting an account on a Windows host: its terminal stops and a task of that host removes
its portable instance folder, behind the same confirmation as its open positions. The instance
root is a temporary directory; the terminal is a stand-in process; host tasks run in process."""

import os
from decimal import Decimal

import psutil
import pytest

from mt5saas.crypto import encrypt
from terminals import tasks
from terminals.drivers.base import Filling, OrderRequest, OrderType, TradeAction
from terminals.instances import instance_start, instance_status, instance_stop
from terminals.models import TerminalHost, TradingAccount
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver, terminal_stand_in
from tests.terminals.test_host_queue import tasks_in_process

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")
LOGIN = "8500001"


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "instances"
    yield root
    for pid_file in root.glob("*/terminal.pid"):  # no stand-in outlives its test
        instance_stop(root=root, login=pid_file.parent.name, timeout=0)


@pytest.fixture
def host(root, monkeypatch) -> TerminalHost:
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-del")  # this process serves the host's queue
    return TerminalHost.objects.create(
        name="win-del", queue_name="win-del", kind="windows", online=True, instance_root=str(root)
    )


@pytest.fixture
def host_tasks(monkeypatch):
    with tasks_in_process(monkeypatch) as enqueued:
        yield enqueued


@pytest.fixture
def instance(root, host, alice):
    """An EA bridge account whose portable terminal runs, with its EA and one open position."""
    driver, _ = ea_bridge_driver(root, login=int(LOGIN), password="ea-pass")
    driver.connect(login=int(LOGIN), password="ea-pass", server="SimBroker-Demo")
    opened = driver.order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=0.01, type_filling=Filling.FOK
        )
    )
    assert opened.retcode == 10009
    folder = root / LOGIN
    terminal_stand_in(folder)
    pid = instance_start(root=root, login=LOGIN)
    account = TradingAccountFactory(
        owner=alice, host=host, logged_in_host=host, kind="ea_bridge", login=LOGIN, password=encrypt("ea-pass")
    )
    return account, folder, pid


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.django_db
def test_delete_asks_first_then_stops_the_terminal_and_removes_its_folder(api_client, alice, instance, host_tasks):
    account, folder, pid = instance
    api_client.force_login(alice)

    asked = api_client.delete(f"/api/v1/accounts/{account.pk}/")
    kept = folder.is_dir() and running(pid)
    done = api_client.delete(f"/api/v1/accounts/{account.pk}/?confirm=true")

    assert asked.status_code == 409 and "1 open position(s)" in asked.json()["detail"]
    assert "its folder on the host" in asked.json()["detail"]
    assert kept, "a refused delete touched the terminal or its folder"
    assert done.status_code == 204
    assert not running(pid) and not folder.exists()
    assert folder.parent.is_dir() and not instance_status(root=folder.parent, login=LOGIN).exists
    removal = [task for task in host_tasks if task["func"] == "terminals.tasks.instance_remove"]
    assert [(task["args"], task["cluster"]) for task in removal] == [((account.pk,), "win-del")]
    account.refresh_from_db()
    assert account.deleted_at is not None
    assert account.status_reason == f"Deleted by its owner; its terminal folder win-del:{LOGIN} was removed."


@pytest.mark.django_db
def test_a_login_registered_again_on_the_host_keeps_its_folder(alice, instance, host):
    account, folder, _ = instance
    TradingAccount.objects.filter(pk=account.pk).update(deleted_at=account.created_at)
    TradingAccountFactory(owner=alice, host=host, kind="ea_bridge", login=LOGIN, server="Other-Live")

    outcome = tasks.instance_remove(account.pk)

    assert outcome == f"login {LOGIN} is registered here again: its folder is kept"
    assert folder.is_dir()


@pytest.mark.django_db
def test_a_live_account_is_never_removed_by_the_task(instance):
    account, folder, pid = instance

    assert tasks.instance_remove(account.pk) == "not a deleted account: nothing removed"
    assert folder.is_dir() and running(pid)


@pytest.mark.django_db
def test_a_folder_that_cannot_be_removed_is_said_on_the_account(alice, instance, host, monkeypatch):
    account, folder, _ = instance
    TradingAccount.objects.filter(pk=account.pk).update(deleted_at=account.created_at, status="stopped")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Access is denied", str(folder))

    monkeypatch.setattr("shutil.rmtree", refuse)
    outcome = tasks.instance_remove(account.pk)

    account.refresh_from_db()
    assert outcome.startswith("not removed:") and "Access is denied" in account.status_reason
    assert account.status == "stopped"


@pytest.mark.django_db
def test_a_paper_account_has_no_folder_to_remove(api_client, alice, host_tasks):
    api_client.force_login(alice)
    body = {"login": "8500002", "password": "pw", "server": "SimBroker-Demo", "kind": "simulated"}
    account_id = api_client.post("/api/v1/accounts/connect", body, format="json").json()["id"]

    assert api_client.delete(f"/api/v1/accounts/{account_id}/").status_code == 204
    assert [task["func"] for task in host_tasks] == []
    assert TradingAccount.objects.get(pk=account_id).balance == Decimal("10000")
