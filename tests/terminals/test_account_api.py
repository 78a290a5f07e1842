"""/api/v1/accounts/ with simulated terminals and EA bridge terminals on a Windows host, and
the operators' host views."""

import os

import pytest

from mt5saas.crypto import encrypt
from terminals.drivers.base import Filling, OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import AccountEvent, SimAccount, TerminalHost, TradingAccount
from terminals.paper.market import SERVERS
from tests.factories import TradingAccountFactory, UserFactory
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.test_host_queue import tasks_in_process

SERVER = "SimBroker-Demo"
POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")


def connect(api_client, **fields):
    body = {"login": "8100001", "password": "paper-pass-1", "server": SERVER, "kind": "simulated", **fields}
    return api_client.post("/api/v1/accounts/connect", body, format="json")


@pytest.fixture
def signed_in(api_client, alice):
    api_client.force_login(alice)
    return api_client


@pytest.mark.django_db
def test_trader_connects_a_simulated_account_and_sees_it_online(signed_in, alice):
    response = connect(signed_in, nickname="paper one")

    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "online" and body["host"] == "simulated"
    assert body["balance"] == "10000.00" and body["currency"] == "USD" and body["leverage"] == 100
    assert "password" not in body
    account = TradingAccount.objects.get(pk=body["id"])
    assert account.owner == alice and "paper-pass-1" not in account.password
    assert AccountEvent.objects.filter(account=account, status="online").exists()
    listed = signed_in.get("/api/v1/accounts/").json()
    assert [a["login"] for a in listed["results"]] == ["8100001"]


@pytest.mark.django_db
def test_wrong_password_is_400_with_mt5_reason_and_stores_nothing(signed_in, bob):
    connect(signed_in)  # the paper broker opens its account with paper-pass-1
    TradingAccount.objects.all().delete()
    assert SimAccount.objects.count() == 1

    response = connect(signed_in, password="wrong-pass")

    assert response.status_code == 400
    assert "Authorization failed" in response.json()["detail"]
    assert "wrong-pass" not in response.content.decode()
    assert not TradingAccount.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"login": "abc123"}, "login"),
        ({"login": "9" * 20}, "login"),
        ({"login": "0"}, "login"),
        ({"login": ""}, "login"),
        ({"password": "x" * 10_000}, "password"),
        ({"server": ""}, "server"),
        ({"kind": "metatrader4"}, "kind"),
        ({"server": "s" * 500}, "server"),
    ],
)
def test_bad_connect_input_is_400_naming_the_field(signed_in, fields, field):
    response = connect(signed_in, **fields)

    assert response.status_code == 400 and field in response.json()["errors"]
    assert "x" * 100 not in response.content.decode()
    assert not TradingAccount.objects.exists()


@pytest.mark.django_db
def test_unknown_server_is_a_clear_400(signed_in):
    response = connect(signed_in, server="Nowhere-Live")

    assert response.status_code == 400 and "unknown trade server" in response.json()["detail"]


@pytest.mark.django_db
def test_login_registered_by_another_trader_is_refused_without_saying_whose(api_client, signed_in, bob):
    api_client.force_login(bob)
    connect(api_client)
    api_client.force_login(UserFactory(username="carol"))

    response = connect(api_client)

    assert response.status_code == 400
    assert response.json()["errors"] == {"login": ["This MT5 account is already registered."]}
    assert TradingAccount.objects.count() == 1


@pytest.mark.django_db
def test_mt5_account_without_an_online_host_is_stored_unassigned_with_the_reason(signed_in):
    TerminalHost.objects.create(name="win-1", queue_name="win-1", kind="windows", online=False)

    response = connect(signed_in, kind="mt5", server="Broker-Live")

    assert response.status_code == 201
    assert response.json()["status"] == "unassigned"
    assert "No online mt5 host has room" in response.json()["status_reason"]


@pytest.mark.django_db
def test_assignment_picks_the_lowest_load_under_capacity(signed_in, alice):
    from terminals.services import host_pick

    busy = TerminalHost.objects.create(name="busy", queue_name="busy", kind="windows", online=True, capacity=5)
    full = TerminalHost.objects.create(name="full", queue_name="full", kind="windows", online=True, capacity=1)
    quiet = TerminalHost.objects.create(name="quiet", queue_name="quiet", kind="windows", online=True, capacity=5)
    TradingAccountFactory.create_batch(2, owner=alice, host=busy, kind="mt5")
    TradingAccountFactory(owner=alice, host=full, kind="mt5")
    TradingAccountFactory(owner=alice, host=quiet, kind="mt5")

    assert host_pick(kind="mt5") == quiet
    TradingAccountFactory.create_batch(2, owner=alice, host=quiet, kind="mt5")
    assert host_pick(kind="mt5") == busy


@pytest.mark.django_db
def test_patch_changes_risk_limits_not_identity(signed_in):
    account_id = connect(signed_in).json()["id"]

    response = signed_in.patch(
        f"/api/v1/accounts/{account_id}/",
        {"max_lot": "1.50", "allowed_symbols": ["gold", "BTCUSD"], "login": "999", "status": "online"},
        format="json",
    )

    body = response.json()
    assert response.status_code == 200
    assert body["max_lot"] == "1.50" and body["allowed_symbols"] == ["BTCUSD", "GOLD"]
    assert body["login"] == "8100001"


@pytest.mark.django_db
def test_switch_and_current_with_ten_switches_per_hour(signed_in):
    first = connect(signed_in).json()["id"]
    second = connect(signed_in, login="8100002").json()["id"]

    assert signed_in.get("/api/v1/accounts/current").json()["id"] == first
    assert signed_in.post(f"/api/v1/accounts/{second}/switch").json()["is_current"] is True
    assert signed_in.get("/api/v1/accounts/current/").json()["id"] == second
    codes = [signed_in.post(f"/api/v1/accounts/{first}/switch").status_code for _ in range(10)]
    assert codes[:9] == [200] * 9 and codes[9] == 429
    assert TradingAccount.objects.filter(is_current=True).count() == 1


@pytest.mark.django_db
def test_current_without_accounts_is_404(signed_in):
    response = signed_in.get("/api/v1/accounts/current")

    assert response.status_code == 404 and response.json()["detail"] == "You have no trading accounts yet."


@pytest.mark.django_db
def test_positions_and_symbols_come_live_from_the_terminal(signed_in):
    account = TradingAccount.objects.get(pk=connect(signed_in).json()["id"])
    simulated_driver(account).order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=0.02, type_filling=Filling.FOK
        )
    )

    positions = signed_in.get(f"/api/v1/accounts/{account.pk}/positions/").json()
    symbols = signed_in.get(f"/api/v1/accounts/{account.pk}/symbols/").json()

    assert [(p["symbol"], p["volume"], p["type"]) for p in positions] == [("BTCUSD", 0.02, 0)]
    gold = next(s for s in symbols if s["name"] == "GOLD")
    assert gold["digits"] == 2 and gold["volume_step"] == 0.01
    # The published schema says so too: the terminal's whole list, not a page of it.
    paths = signed_in.get("/api/schema/", headers={"Accept": "application/json"}).json()["paths"]
    for name in ("positions", "symbols"):
        operation = paths[f"/api/v1/accounts/{{id}}/{name}/"]["get"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
        assert "page" not in {parameter["name"] for parameter in operation.get("parameters", [])}


@pytest.fixture
def host_tasks(monkeypatch):
    """The tasks sent to any host's queue, each run in this process as its worker would."""
    with tasks_in_process(monkeypatch) as enqueued:
        yield enqueued


@pytest.fixture
def windows_host(tmp_path, monkeypatch):
    """A Windows host whose queue this process serves."""
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-api")
    return TerminalHost.objects.create(
        name="win-api", queue_name="win-api", kind="windows", online=True, instance_root=str(tmp_path)
    )


@pytest.mark.django_db
def test_symbols_of_a_host_account_cost_one_host_task(signed_in, alice, windows_host, tmp_path, host_tasks):
    ea_bridge_driver(tmp_path, login=8100005, password="ea-pass")
    account = TradingAccountFactory(
        owner=alice, host=windows_host, kind="ea_bridge", login="8100005", password=encrypt("ea-pass")
    )

    response = signed_in.get(f"/api/v1/accounts/{account.pk}/symbols/")

    symbols = response.json()
    assert response.status_code == 200
    assert sorted(s["name"] for s in symbols) == sorted(SERVERS[SERVER]) and len(symbols) > 1
    gold = next(s for s in symbols if s["name"] == "GOLD")
    assert gold["digits"] == 2 and gold["volume_step"] == 0.01
    assert [(t["func"], t["cluster"]) for t in host_tasks] == [("terminals.tasks.terminal_read", "win-api")]


@POSIX_ONLY
@pytest.mark.django_db(transaction=True)
def test_ea_bridge_account_with_a_wrong_password_is_400_and_stores_nothing(
    signed_in, windows_host, tmp_path, host_tasks
):
    _, ea = ea_bridge_driver(tmp_path, login=8100006, password="Real-ea-pass", threaded=True, instance=True)
    try:
        refused = connect(signed_in, kind="ea_bridge", login="8100006", password="Guess-ea-pass")
        accepted = connect(signed_in, kind="ea_bridge", login="8100006", password="Real-ea-pass")
    finally:
        ea.close()

    body = refused.content.decode()
    leaked = "Guess-ea-pass" in body or "Real-ea-pass" in accepted.content.decode()
    assert not leaked
    assert refused.status_code == 400 and "Authorization failed: Invalid account" in refused.json()["detail"]
    assert accepted.status_code == 201 and accepted.json()["status"] == "online"
    assert accepted.json()["balance"] == "10000.00"
    assert list(TradingAccount.objects.values_list("login", "kind")) == [("8100006", "ea_bridge")]


@pytest.mark.django_db
def test_delete_with_open_positions_needs_confirmation_and_keeps_history(signed_in):
    account = TradingAccount.objects.get(pk=connect(signed_in).json()["id"])
    simulated_driver(account).order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=0.01, type_filling=Filling.FOK
        )
    )

    refused = signed_in.delete(f"/api/v1/accounts/{account.pk}/")
    done = signed_in.delete(f"/api/v1/accounts/{account.pk}/?confirm=true")

    assert refused.status_code == 409 and "1 open position(s)" in refused.json()["detail"]
    assert done.status_code == 204
    account.refresh_from_db()
    assert account.deleted_at is not None and account.status == "stopped"
    assert signed_in.get("/api/v1/accounts/").json()["count"] == 0
    assert signed_in.get(f"/api/v1/accounts/{account.pk}/").status_code == 404
    # The login can be registered again once the old registration is deleted.
    assert connect(signed_in).status_code == 201


@pytest.mark.django_db
def test_operator_sees_hosts_with_load_and_moves_an_account(api_client, operator, alice):
    win1 = TerminalHost.objects.create(name="win-1", queue_name="win-1", kind="windows", online=True, capacity=2)
    win2 = TerminalHost.objects.create(name="win-2", queue_name="win-2", kind="windows", online=True, capacity=1)
    account = TradingAccountFactory(owner=alice, host=win1, kind="mt5")
    api_client.force_login(operator)

    hosts = {h["name"]: h for h in api_client.get("/api/admin/hosts").json()["results"]}
    moved = api_client.patch(f"/api/admin/assignments/{account.pk}/", {"host": "win-2"}, format="json")
    TradingAccountFactory(owner=alice, host=win1, kind="mt5")
    overfull = api_client.patch(
        f"/api/admin/assignments/{TradingAccount.objects.last().pk}", {"host": "win-2"}, format="json"
    )
    wrong_kind = api_client.patch(f"/api/admin/assignments/{account.pk}/", {"host": "simulated"}, format="json")

    assert hosts["win-1"]["load"] == 1 and hosts["win-1"]["capacity"] == 2
    assert moved.status_code == 200 and TradingAccount.objects.get(pk=account.pk).host == win2
    assert overfull.status_code == 400 and "capacity of 1" in str(overfull.json()["errors"])
    assert wrong_kind.status_code == 400
    api_client.force_login(alice)
    assert api_client.get("/api/admin/hosts").status_code == 403


@pytest.mark.django_db
def test_stats_include_account_figures(api_client, operator, alice):
    TradingAccountFactory(owner=alice, status="online")
    TradingAccountFactory(owner=alice, status="offline")
    api_client.force_login(operator)

    stats = api_client.get("/api/admin/stats").json()

    assert stats["accounts"] == 2 and stats["accounts_online"] == 1 and stats["accounts_offline"] == 1


@pytest.mark.django_db
def test_stop_start_restart_a_simulated_terminal(signed_in):
    account_id = connect(signed_in).json()["id"]

    stopped = signed_in.post(f"/api/v1/accounts/{account_id}/stop")
    started = signed_in.post(f"/api/v1/accounts/{account_id}/start/")
    restarted = signed_in.post(f"/api/v1/accounts/{account_id}/restart")

    assert stopped.json()["status"] == "stopped"
    assert started.json()["status"] == "online" and restarted.json()["status"] == "online"
    statuses = list(AccountEvent.objects.filter(account_id=account_id).values_list("status", flat=True))
    assert statuses == ["online", "stopped", "connecting", "online", "connecting", "online"]


@pytest.mark.django_db
def test_instance_action_on_an_unassigned_account_is_409(signed_in):
    account_id = connect(signed_in, kind="mt5", server="Broker-Live").json()["id"]

    response = signed_in.post(f"/api/v1/accounts/{account_id}/start")

    assert response.status_code == 409 and "no host yet" in response.json()["detail"]
