"""Where an alert or an API order goes: the single-user bot's "account", the accounts API's
current account, and fields that would change where or how much is traded."""

import json

import pytest
from django.test import Client

from accounts.services import api_token_create, webhook_token_reveal
from terminals.gateway import simulated_driver
from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.services import account_connect, account_set_status, account_switch
from webhooks.models import Signal


@pytest.fixture
def paper(alice):
    return [
        account_connect(owner=alice, login=login, password="pw", server="SimBroker-Demo", kind="simulated")
        for login in ("1123456", "1123457", "1123458")
    ]


@pytest.fixture
def hook(alice):
    token = webhook_token_reveal(user=alice)
    return lambda body: Client().post(f"/webhook/{token}", json.dumps(body), content_type="text/plain")


@pytest.mark.django_db
@pytest.mark.parametrize("login", ["1123457", 1123457])
def test_an_alert_naming_one_account_trades_that_account_only(hook, paper, login):
    response = hook({"account": login, "action": "BUY", "symbol": "BTCUSD", "volume": "0.01"})

    assert response.status_code == 202
    assert [o["account"] for o in response.json()["orders"]] == [paper[1].pk]
    assert "ignored_fields" not in response.json()
    assert list(Order.objects.values_list("account__login", flat=True)) == ["1123457"]


@pytest.mark.django_db
def test_an_alert_naming_an_unknown_or_foreign_account_is_refused_naming_it(hook, paper, bob):
    foreign = account_connect(owner=bob, login="7700001", password="pw", server="SimBroker-Demo", kind="simulated")

    for login in ("999", foreign.login):
        response = hook({"account": login, "action": "BUY", "symbol": "BTCUSD", "volume": "0.01"})

        assert response.status_code == 400
        assert response.json()["errors"] == {"account": [f"Not one of your active accounts: {login}."]}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_account_and_accounts_together_are_refused(hook, paper):
    response = hook({"account": "1123456", "accounts": ["1123457"], "action": "BUY", "symbol": "X", "volume": 1})

    assert response.status_code == 400 and list(response.json()["errors"]) == ["account"]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_close_percent_is_refused_and_the_position_stays_whole(hook, paper, django_capture_on_commit_callbacks):
    account = paper[0]
    hook({"account": account.login, "action": "BUY", "symbol": "BTCUSD", "volume": "0.10"})
    account_drain(account.pk)

    response = hook({"account": account.login, "action": "CLOSE", "symbol": "BTCUSD", "close_percent": 50})
    account_drain(account.pk)

    assert response.status_code == 400
    assert "close_percent" in response.json()["errors"]
    assert [(p.symbol, p.volume) for p in simulated_driver(account).positions()] == [("BTCUSD", 0.1)]
    assert Order.objects.filter(action="close_symbol").count() == 0
    assert Signal.objects.filter(status=Signal.Status.REFUSED).count() == 1


@pytest.mark.django_db
def test_webhooks_without_accounts_still_go_to_every_account(hook, paper, alice):
    account_switch(account=paper[2])

    response = hook({"action": "SELL", "symbol": "BTCUSD", "volume": "0.01"})

    assert [o["account"] for o in response.json()["orders"]] == [a.pk for a in paper]


@pytest.mark.django_db
@pytest.mark.parametrize("authenticate", ["session", "token"])
def test_an_api_order_without_accounts_goes_to_the_current_account_only(api_client, alice, paper, authenticate):
    if authenticate == "session":
        api_client.force_login(alice)
    else:
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=alice)}")
    api_client.post(f"/api/v1/accounts/{paper[1].pk}/switch")

    placed = api_client.post("/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": 0.01}, format="json")

    assert placed.status_code == 202
    assert [o["account"] for o in placed.json()["orders"]] == [paper[1].pk]
    named = api_client.post(
        "/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": ["1123456", "1123458"]},
        format="json",
    )  # fmt: skip
    assert [o["account"] for o in named.json()["orders"]] == [paper[0].pk, paper[2].pk]


@pytest.mark.django_db
def test_an_api_order_goes_to_the_account_current_shows(api_client, alice, paper):
    api_client.force_login(alice)
    current = api_client.get("/api/v1/accounts/current").json()

    placed = api_client.post("/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": 0.01}, format="json")

    assert [o["account"] for o in placed.json()["orders"]] == [current["id"]]


@pytest.mark.django_db
def test_an_api_order_to_a_stopped_current_account_is_refused(api_client, alice, paper):
    api_client.force_login(alice)
    account_switch(account=paper[0])
    account_set_status(account=paper[0], status=paper[0].Status.STOPPED, reason="stopped by the trader")

    placed = api_client.post("/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": 0.01}, format="json")

    assert placed.status_code == 400
    assert placed.json()["errors"] == {"accounts": ["Your current account 1123456 is stopped."]}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_api_order_with_no_account_at_all_is_refused(api_client, alice):
    api_client.force_login(alice)

    placed = api_client.post("/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": 0.01}, format="json")

    assert placed.status_code == 400 and not Order.objects.exists()
