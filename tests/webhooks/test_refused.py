"""Refused alerts stay in the trader's history (page and API), kept small, without secrets,
and only the newest few hundred per trader."""

import json
from html import unescape

import pytest
from django.test import Client

from accounts.services import webhook_token_reveal
from terminals.models import Order
from terminals.services import account_connect
from webhooks.models import Signal

NOT_JSON = "The body is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 30."


@pytest.fixture
def token(alice) -> str:
    return webhook_token_reveal(user=alice)


@pytest.fixture
def hook(token):
    def send(body, path=None):
        text = body if isinstance(body, str | bytes) else json.dumps(body)
        return Client().generic("POST", path or f"/webhook/{token}", text, content_type="text/plain")

    return send


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_trader_sees_a_refused_alert_and_each_error_in_words_after_a_reload(hook, signed_in, alice):
    account_connect(owner=alice, login="8930001", password="pw", server="SimBroker-Demo", kind="simulated")

    refused = hook({"action": "buy", "symbol": "BTCUSD", "volume": "lots", "price": "{{close}}"})
    html = unescape(signed_in.get("/history").text)

    assert refused.status_code == 400 and not Order.objects.exists()
    signal = Signal.objects.get()
    assert f'data-signal="{signal.pk}"' in html
    row = html[html.index(f'data-signal="{signal.pk}"') :]
    assert ">refused</span>" in row
    assert 'volume must be a number, got "lots".' in row
    assert "price is the unrendered placeholder {{close}}: check the alert message." in row


@pytest.mark.django_db
def test_a_body_that_is_no_json_object_is_refused_and_kept_as_text(hook, signed_in):
    response = hook('{"action": "buy", "symbol": {{ticker}}}')

    assert response.status_code == 400
    assert response.json() == {"detail": NOT_JSON}
    signal = Signal.objects.get()
    assert signal.status == "refused" and signal.payload == {"text": '{"action": "buy", "symbol": {{ticker}}}'}
    assert signal.errors == {"body": [NOT_JSON]}
    assert NOT_JSON in unescape(signed_in.get("/history").text)


@pytest.mark.django_db
def test_an_oversize_body_is_refused_and_kept_without_its_body(hook, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024

    response = hook('{"comment": "' + "x" * 2000 + '"}')

    assert response.status_code == 413
    signal = Signal.objects.get()
    assert signal.payload == {} and signal.errors == {"body": ["The body is larger than 1024 bytes."]}


@pytest.mark.django_db
def test_a_refused_body_is_kept_without_the_token_or_other_secrets(hook, token):
    url = f"https://mt5saas.example.com/webhook/{token}"
    body = {"token": token, "action": "jump", "api_key": "cpk_secret", "password": "hunter2", "comment": url}

    assert hook(body, path="/webhook/").status_code == 400

    stored = json.dumps(Signal.objects.values("payload", "errors", "response").get())
    assert token not in stored and "cpk_secret" not in stored and "hunter2" not in stored
    kept = Signal.objects.get().payload["body"]
    assert kept["token"] == kept["api_key"] == kept["password"] == "<redacted>"
    assert kept["action"] == "jump" and kept["comment"] == "https://mt5saas.example.com/webhook/<redacted>"


@pytest.mark.django_db
def test_a_large_refused_body_is_kept_cut_down(hook):
    body = {f"field_{n}": "v" * 300 for n in range(40)} | {"nested": {"deep": ["x" * 500]}}

    assert hook(body).status_code == 400

    kept = Signal.objects.get().payload["body"]
    assert len(json.dumps(kept)) < 5000
    assert kept["field_0"] == "v" * 120 + "…" and kept["…"] == "16 more field(s) not kept"


@pytest.mark.django_db
def test_only_the_newest_refusals_of_a_trader_are_kept(hook, alice, bob, monkeypatch):
    monkeypatch.setattr("webhooks.refused.REFUSED_KEEP", 3)
    theirs = Signal.objects.create(owner=bob, status="refused", action="old")
    accepted = Signal.objects.create(owner=alice, status="accepted", action="buy")

    for number in range(5):
        assert hook({"action": f"jump{number}"}).status_code == 400

    kept = Signal.objects.filter(owner=alice, status="refused").order_by("pk")
    assert [s.action for s in kept] == ["jump2", "jump3", "jump4"]
    assert Signal.objects.filter(pk__in=[theirs.pk, accepted.pk]).count() == 2


@pytest.mark.django_db
def test_bad_bodies_count_against_the_rate_limit_and_a_flood_stores_nothing_more(hook, settings):
    settings.WEBHOOK_RATE_LIMIT = "2/m"

    codes = [hook("not json").status_code for _ in range(4)]

    assert codes == [400, 400, 429, 429]
    assert Signal.objects.count() == 2


@pytest.mark.django_db
def test_bad_bodies_without_a_valid_token_are_not_kept(hook, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024

    assert hook("not json", path="/webhook/whk_" + "A" * 43).status_code == 404
    assert hook("x" * 2000, path="/webhook/whk_" + "A" * 43).status_code == 413
    assert hook("not json", path="/webhook/").status_code == 400

    assert not Signal.objects.exists()


@pytest.mark.django_db
def test_signals_api_lists_refused_alerts_with_their_errors(hook, api_client, alice):
    hook({"action": "jump", "symbol": "BTCUSD"})
    hook("[1]")
    api_client.force_authenticate(alice)

    refused = api_client.get("/api/v1/signals/", {"status": "refused"}).json()["results"]
    bad_filter = api_client.get("/api/v1/signals/", {"status": "nope"})

    assert [s["status"] for s in refused] == ["refused", "refused"]
    assert refused[0]["errors"] == {"body": ["The body must be a JSON object."]}
    assert refused[0]["payload"] == {"text": "[1]"}
    assert "action" in refused[1]["errors"] and refused[1]["payload"]["body"]["symbol"] == "BTCUSD"
    assert bad_filter.status_code == 400


@pytest.mark.django_db
def test_history_filters_and_clears_refused_alerts(hook, signed_in, alice):
    account = account_connect(owner=alice, login="8930002", password="pw", server="SimBroker-Demo", kind="simulated")
    signed_in.post("/signals/test", {"body": json.dumps({"action": "BUY", "symbol": "BTCUSD", "volume": "0.01"})})
    hook({"action": "jump", "symbol": "GOLD"})

    only_refused = signed_in.get("/history", {"status": "refused"}).text
    by_account = signed_in.get("/history", {"account": account.pk}).text
    by_symbol = signed_in.get("/history", {"symbol": "gold"}).text
    cleared = signed_in.post("/history/clear", follow=True).text

    assert "data-signal=" in only_refused and "data-order=" not in only_refused
    assert "data-signal=" not in by_account and "data-order=" in by_account
    assert "data-signal=" in by_symbol and "data-order=" not in by_symbol
    assert "Cleared 1 order(s) and 1 refused alert(s)" in cleared and "data-signal=" not in cleared
    assert Signal.objects.filter(status="refused").count() == 1


@pytest.mark.django_db
def test_another_traders_history_shows_none_of_my_refusals(hook, client, bob):
    hook({"action": "jump"})
    client.force_login(bob)

    assert "data-signal=" not in client.get("/history").text
