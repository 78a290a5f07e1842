"""The terminal-pool design's routes: GET /api/user/accounts, GET /api/admin/pool-agents, and
/api/admin/assignments rows with money figures, eaStatus (written from the EA's own status
file by the host agent) and lastHeartbeat."""

import pytest
from django.utils import timezone

from mt5saas.crypto import encrypt
from terminals.agent import HostAgent
from terminals.models import TerminalHost, TradingAccount
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver

SERVER = "SimBroker-Demo"


@pytest.fixture
def host(db) -> TerminalHost:
    return TerminalHost.objects.create(
        name="win-pool", queue_name="win-pool", kind="windows", online=True, capacity=7, instance_root="C:/mt5"
    )


@pytest.fixture
def ea_account(host, alice, tmp_path):
    """An EA bridge account on the host, its terminal logged in, and the agent that reads it."""
    driver, ea = ea_bridge_driver(tmp_path, login=8400001, password="ea-pass", server=SERVER)
    account = TradingAccountFactory(
        owner=alice, host=host, logged_in_host=host, kind="ea_bridge", login="8400001", password=encrypt("ea-pass")
    )

    def open_driver(account):
        driver.connect(login=int(account.login), password="ea-pass", server=SERVER)
        return driver

    return account, ea, HostAgent(host=host, open_driver=open_driver)


def assignment(api_client, operator, account) -> dict:
    api_client.force_login(operator)
    rows = api_client.get("/api/admin/assignments").json()["results"]
    return next(row for row in rows if row["id"] == account.pk)


@pytest.mark.django_db
def test_the_agent_records_what_the_ea_says_of_itself_and_operators_see_it(api_client, operator, ea_account):
    account, ea, agent = ea_account

    agent.tick()
    running = assignment(api_client, operator, account)
    ea.algo_trading = False
    agent.tick()
    loaded = assignment(api_client, operator, account)
    ea.remove_from_chart()
    agent.tick()
    unloaded = assignment(api_client, operator, account)

    name = "MT5SaaS_AllInOne"
    assert running["eaStatus"] == {"loaded": True, "running": True, "name": name}
    assert loaded["eaStatus"] == {"loaded": True, "running": False, "name": name}
    assert unloaded["eaStatus"] == {"loaded": False, "running": False, "name": name}
    assert (running["balance"], running["equity"], running["profit"], running["margin"]) == (
        "10000.00",
        "10000.00",
        "0.00",
        "0.00",
    )
    account.refresh_from_db()
    # Removed from its chart: offline at once, with the EA's reason; the heartbeat is the last good read.
    assert account.status == "offline" and "removed from its chart" in account.status_reason
    assert (
        unloaded["lastHeartbeat"] == loaded["lastHeartbeat"] == account.heartbeat_at.isoformat().replace("+00:00", "Z")
    )


@pytest.mark.django_db
def test_a_trader_reads_their_accounts_with_the_pool_designs_keys(api_client, alice, bob, host, ea_account):
    account, _, agent = ea_account
    agent.tick()
    TradingAccountFactory(owner=bob, nickname="bobs-own")
    live = TradingAccountFactory(owner=alice, nickname="Main", is_demo=False, is_current=True, status="stopped")
    api_client.force_login(alice)

    response = api_client.get("/api/user/accounts")

    assert response.status_code == 200 and set(response.json()) == {"accounts"}
    rows = {row["id"]: row for row in response.json()["accounts"]}
    assert set(rows) == {account.pk, live.pk} and "bobs-own" not in response.content.decode()
    ea_row = rows[account.pk]
    assert ea_row["eaStatus"] == {"loaded": True, "running": True, "name": "MT5SaaS_AllInOne"}
    assert ea_row["agent"] == "win-pool" and ea_row["freeMargin"] == "10000.00" and ea_row["isActive"] is True
    assert ea_row["lastHeartbeat"] is not None and ea_row["isDefault"] is False
    assert (rows[live.pk]["accountName"], rows[live.pk]["accountType"]) == ("Main", "live")
    assert (rows[live.pk]["isDefault"], rows[live.pk]["isActive"], rows[live.pk]["eaStatus"]) == (True, False, None)
    assert "password" not in response.content.decode()


@pytest.mark.django_db
def test_operators_read_the_hosts_as_pool_agents_and_traders_cannot(api_client, operator, alice, host):
    TerminalHost.objects.filter(pk=host.pk).update(heartbeat_at=timezone.now(), cpu_percent=12.5)
    TradingAccountFactory.create_batch(2, owner=alice, host=host, kind="mt5")
    TradingAccountFactory(owner=alice, host=host, kind="mt5", deleted_at=timezone.now())

    api_client.force_login(alice)
    refused = api_client.get("/api/admin/pool-agents")
    api_client.force_login(operator)
    response = api_client.get("/api/admin/pool-agents/")

    assert refused.status_code == 403
    agents = {agent["name"]: agent for agent in response.json()["agents"]}
    agent = agents["win-pool"]
    assert (agent["queueName"], agent["status"], agent["capacity"], agent["load"]) == ("win-pool", "online", 7, 2)
    assert agent["cpuPercent"] == 12.5 and agent["lastHeartbeat"] is not None and agent["instanceRoot"] == "C:/mt5"


@pytest.mark.django_db
def test_the_schema_names_the_pool_routes(api_client, alice):
    api_client.force_login(alice)

    paths = api_client.get("/api/schema/", headers={"Accept": "application/json"}).json()["paths"]

    assert {"/api/user/accounts", "/api/admin/pool-agents"} <= {path.rstrip("/") for path in paths}
    assert TradingAccount.objects.count() == 0
