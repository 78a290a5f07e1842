"""JSON that parses but that no database column can hold, or that Python cannot walk: a lone
UTF-16 surrogate ("\\ud800" is valid JSON, not valid Unicode text), a NUL character (no
PostgreSQL text holds one), nesting thousands deep, and numbers with exponents of a billion.
Each is a 400 that changes nothing, on every route that reads a body, signed in or not."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.services import webhook_token_rotate
from copytrading.models import CopyEvent, CopyExecution, CopyPair
from copytrading.services import pair_create
from mt5saas.jsontext import unstorable_text
from terminals.models import Order, SymbolMapping, TradingAccount
from tests.factories import TradingAccountFactory
from webhooks.models import Signal

pytestmark = pytest.mark.django_db

SURROGATE, NUL = "\\ud800", "\\u0000"
DEEP = "[" * 3000 + "]" * 3000


def rows() -> tuple:
    counts = (model.objects.count() for model in (Order, CopyEvent, CopyPair, SymbolMapping))
    # A refused alert is kept for the trader's history, its body cut down to storable text.
    accepted = Signal.objects.exclude(status=Signal.Status.REFUSED).count()
    return (accepted, *counts, list(TradingAccount.objects.values_list("allowed_symbols", "nickname")))


def refused_kept_storable() -> bool:
    kept = list(Signal.objects.filter(status=Signal.Status.REFUSED).values_list("payload", "errors", "action"))
    return bool(kept) and unstorable_text(kept) is None


@pytest.fixture
def setup(alice, paper):
    master, slave = paper("M"), paper("S")
    _, key = pair_create(owner=alice, master=master, slave=slave)
    token = webhook_token_rotate(user=alice)
    client = APIClient()
    client.force_authenticate(alice)
    return {"key": key, "master": master, "slave": slave, "token": token, "client": client}


def _bad_bodies(setup) -> list[tuple[str, str, str]]:
    """(method, path, body text) with {x} where the hostile value goes."""
    token, key, master, slave = setup["token"], setup["key"], setup["master"], setup["slave"]
    alert = '"action": "buy", "symbol": "BTCUSD", "volume": 0.01'
    copy = f'"api_key": "{key}", "account": "{master.login}", "event": "deal_add", "order_id": "1", "volume": 0.01'
    return [
        ("post", "/webhook/", f'{{"token": "{{x}}", {alert}}}'),
        ("post", f"/webhook/{token}", f'{{"id": "{{x}}", {alert}}}'),
        ("post", f"/webhook/{token}", '{"action": "{x}", "symbol": "BTCUSD", "volume": 0.01}'),
        ("post", f"/webhook/{token}", '{"action": "buy", "symbol": "{x}", "volume": 0.01}'),
        ("post", "/api/v1/orders/", f'{{"id": "{{x}}", {alert}}}'),
        ("post", "/api/copy/trade", f'{{"api_key": "{{x}}", "account": "{master.login}", "event": "deal_add"}}'),
        ("post", "/api/copy/trade", f'{{{copy}, "symbol": "BTCUSD", "type": "BUY", "deal": "{{x}}"}}'),
        ("post", "/api/copy/trade", f'{{"api_key": "{key}", "account": "{{x}}", "event": "deal_add"}}'),
        ("post", "/api/copy/pairs/", f'{{"master": {master.pk}, "slave": {slave.pk}, "volume_mode": "{{x}}"}}'),
        ("post", "/api/v1/accounts/connect", '{"login": "1", "password": "p", "server": "S", "kind": "{x}"}'),
        ("patch", f"/api/v1/accounts/{master.pk}/", '{"allowed_symbols": ["{x}"]}'),
        ("patch", f"/api/v1/accounts/{master.pk}/", '{"nickname": "{x}"}'),
        ("post", "/api/v1/symbol-mappings/", f'{{"account": {master.pk}, "requested": "{{x}}", "broker_symbol": "X"}}'),
    ]


@pytest.mark.parametrize("value", [SURROGATE, NUL, "a" + NUL + "b"], ids=["surrogate", "nul", "inner-nul"])
def test_text_no_database_holds_is_a_400_everywhere(setup, value):
    before = rows()
    for method, path, body in _bad_bodies(setup):
        for content_type in ("application/json", "text/plain"):
            reply = getattr(setup["client"], method)(path, body.replace("{x}", value), content_type=content_type)
            if reply.status_code == 415:
                continue  # a route that reads JSON only under its own type
            assert reply.status_code == 400, (path, body, reply.status_code, reply.content[:300])
            assert reply.json()["detail"]  # says why, in text that encodes
    assert rows() == before
    assert refused_kept_storable()


def test_json_nested_thousands_deep_is_a_400_everywhere(setup):
    before = rows()
    paths = {(method, path) for method, path, _ in _bad_bodies(setup)}
    for method, path in sorted(paths):
        for content_type in ("application/json", "text/plain"):
            reply = getattr(setup["client"], method)(path, DEEP, content_type=content_type)
            assert reply.status_code in (400, 415), (path, reply.status_code)
    assert rows() == before
    assert refused_kept_storable()


def test_the_dashboards_test_signal_with_a_surrogate_says_so(client, alice):
    client.force_login(alice)

    reply = client.post("/signals/test", {"body": '{"action": "buy", "symbol": "' + SURROGATE + '", "volume": 1}'})

    assert reply.status_code == 302 and Signal.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"volume": "1e999999999"},
        {"sl": "1e999999999"},
        {"tp": "-1e999999999"},
        {"sl": "1e-999999999"},
        {"volume": "1e-999999999"},
        {"sl": 1e12},
        {"tp": "123456789012.5"},
        {"volume": "0.00000000000000000000000001"},
    ],
)
@pytest.mark.parametrize("event", ["deal_add", "deal_close", "position_modify"])
def test_numbers_no_column_holds_are_a_400_naming_the_field(setup, trade, event, change):
    body = {"event": event, "order_id": "1", "symbol": "BTCUSD", "type": "BUY", "volume": 0.01} | change
    before = rows()

    reply = trade(setup["key"], setup["master"], **body)

    assert reply.status_code == 400 and list(reply.json()["errors"]) == list(change)
    assert rows() == before


def test_a_rule_giving_more_lots_than_any_symbol_trades_is_that_slaves_error(setup, trade, client, alice):
    CopyPair.objects.update(volume_mode="multiply", multiplier=Decimal("999999.9999"))

    reply = trade(setup["key"], setup["master"], event="deal_add", order_id="1", symbol="BTCUSD", type="BUY",
                  volume=1000000)  # fmt: skip
    client.force_login(alice)

    assert reply.status_code == 200 and reply.json()["status"] == "error"
    [execution] = CopyExecution.objects.all()
    assert "more than" in execution.error and Order.objects.count() == 0
    assert client.get("/api/copy/history").status_code == 200 and client.get("/copy/history").status_code == 200


@pytest.mark.parametrize("symbols", [["a\x01b"], [" "], ["EURUSD", "x" * 41]])
def test_allowed_symbols_are_symbol_names(setup, symbols):
    reply = setup["client"].patch(
        f"/api/v1/accounts/{setup['master'].pk}/", {"allowed_symbols": symbols}, format="json"
    )

    assert reply.status_code == 400 and "allowed_symbols" in reply.json()["errors"]
    assert TradingAccount.objects.get(pk=setup["master"].pk).allowed_symbols == []


def test_digits_of_other_scripts_in_page_parameters_are_ignored(client, alice):
    account = TradingAccountFactory(owner=alice)
    client.force_login(alice)

    page = client.get("/copy?edit=²")
    saved = client.post("/alerts/preferences", {"order_filled-endpoints": ["²", "①"]})

    assert page.status_code == 200 and saved.status_code == 302
    assert account.pk


def test_clearing_the_history_clears_what_the_filter_shows(setup, trade, api_client, alice):
    key, master = setup["key"], setup["master"]
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.01)
    trade(key, master, event="deal_close", order_id="never-opened")  # skipped
    api_client.force_login(alice)

    refused = api_client.delete("/api/copy/history?status=garbage")
    cleared = api_client.delete("/api/copy/history?status=skipped")
    left = api_client.get("/api/copy/history").json()

    assert refused.status_code == 400
    assert cleared.json() == {"cleared": 1}
    assert [event["order_id"] for event in left["results"]] == ["1"]
    assert json.dumps(left)
