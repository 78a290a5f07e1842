"""The replies of POST /webhook and POST /api/v1/orders/ byte for byte (docs/webhook.md, docs/api.md),
what a refused alert keeps of its reply, and the test form's words."""

import json
from html import unescape

import pytest
from django.test import Client

from accounts.services import webhook_token_reveal
from terminals.models import Order
from terminals.services import account_connect
from webhooks.models import Signal

INVALID = {"action": "buy", "symbol": "BTCUSD", "volume": "lots", "id": "bar-7"}
INVALID_REPLY = (
    b'{"detail": "The signal is invalid: volume must be a number, got \\"lots\\".", '
    b'"errors": {"volume": ["volume must be a number, got \\"lots\\"."]}}'
)


@pytest.fixture
def account(alice):
    return account_connect(owner=alice, login="8940001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.fixture
def hook(alice):
    token = webhook_token_reveal(user=alice)
    return lambda body: Client().post(f"/webhook/{token}", json.dumps(body), content_type="text/plain")


@pytest.mark.django_db
def test_an_accepted_alert_is_answered_202_with_the_signal_and_its_queued_orders(hook, account):
    response = hook({"action": "buy", "symbol": "BTCUSD", "volume": "0.01", "bar": "1h"})

    signal, order = Signal.objects.get(), Order.objects.get()
    assert response.status_code == 202 and response["Content-Type"] == "application/json"
    assert response.content == (
        f'{{"signal": {signal.pk}, "orders": [{{"id": {order.pk}, "account": {account.pk}, "status": "queued"}}], '
        '"ignored_fields": ["bar"]}'
    ).encode()


@pytest.mark.django_db
def test_a_refused_alert_is_answered_400_and_keeps_that_reply_for_a_repeat_of_its_id(hook, account):
    first = hook(INVALID)
    again = hook({**INVALID, "volume": "0.01"})  # the id repeats: the first reply, nothing placed

    assert first.status_code == again.status_code == 400
    assert first.content == again.content == INVALID_REPLY
    signal = Signal.objects.get()
    assert signal.response == {"status": 400, "body": json.loads(INVALID_REPLY)}
    assert signal.errors == json.loads(INVALID_REPLY)["errors"]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_orders_api_answers_an_order_as_the_webhook_answers_an_alert(api_client, alice, account):
    api_client.force_login(alice)

    refused = api_client.post("/api/v1/orders/", INVALID, format="json")
    repeated = api_client.post("/api/v1/orders/", {**INVALID, "volume": "0.01"}, format="json")
    placed = api_client.post("/api/v1/orders/", {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"}, format="json")

    assert refused.status_code == repeated.status_code == 400
    # DRF writes JSON without spaces: the same reply, another rendering.
    assert refused.content == repeated.content and refused.json() == json.loads(INVALID_REPLY)
    order = Order.objects.get()
    assert placed.status_code == 202
    assert placed.json() == {"signal": order.signal_id, "orders": [{"id": order.pk, "account": account.pk,
                                                                     "status": "queued"}]}  # fmt: skip


@pytest.mark.django_db
def test_the_test_form_says_why_a_signal_was_refused_with_its_errors(client, alice, account):
    client.force_login(alice)

    response = client.post("/signals/test", {"body": json.dumps(INVALID)}, follow=True)

    errors = json.dumps({"volume": ['volume must be a number, got "lots".']})
    assert f'The signal is invalid: volume must be a number, got "lots". {errors}' in unescape(response.text)
    assert "alert-danger" in response.text and not Order.objects.exists()


@pytest.mark.django_db
def test_clearing_the_orders_api_with_a_filter_hides_only_those_orders(api_client, alice, account):
    api_client.force_login(alice)
    for symbol in ("BTCUSD", "GOLD"):
        api_client.post("/api/v1/orders/", {"action": "buy", "symbol": symbol, "volume": 0.01}, format="json")

    cleared = api_client.delete("/api/v1/orders/?symbol=gold")
    shown = api_client.get("/api/v1/orders/").json()["results"]

    assert cleared.status_code == 200 and cleared.json() == {"cleared": 1}
    assert [o["requested_symbol"] for o in shown] == ["BTCUSD"]
    assert api_client.delete("/api/v1/orders/?status=done").status_code == 400
    assert Order.objects.filter(hidden_at__isnull=True).count() == 1
