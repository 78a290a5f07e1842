import pytest

from accounts.services import api_token_create
from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.services import account_connect

FIELDS = {
    "id", "signal", "account", "account_login", "source", "action", "side", "order_type", "requested_symbol",
    "symbol", "volume", "price", "sl", "tp", "status", "status_reason", "retcode", "retcode_text", "ticket",
    "fill_price", "digits", "comment", "created_at", "queued_at", "sent_at", "done_at", "latency_ms",
    "risk_percent", "sent_volume", "filled_volume", "deals_url",
}  # fmt: skip


@pytest.fixture
def account(alice):
    return account_connect(owner=alice, login="8910001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.mark.django_db
def test_a_browser_places_a_manual_order_and_reads_its_history(
    api_client, alice, account, django_capture_on_commit_callbacks
):
    api_client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        body = {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"}
        placed = api_client.post("/api/v1/orders/", body, format="json")
    account_drain(account.pk)
    history = api_client.get("/api/v1/orders", {"status": "filled"}).json()

    assert placed.status_code == 202
    row = history["results"][0]
    assert set(row) == FIELDS and history["count"] == 1
    assert row["source"] == "manual" and row["status"] == "filled" and row["retcode"] == 10009
    assert row["retcode_text"] == "Request completed (DONE 10009)" and row["latency_ms"] > 0
    assert row["account_login"] == "8910001" and row["symbol"] == "BTCUSD"
    # The four latency stamps, in the order the pipeline passes them.
    assert row["created_at"] <= row["queued_at"] <= row["sent_at"] <= row["done_at"]
    signal = api_client.get(f"/api/v1/signals/{placed.json()['signal']}/").json()
    assert signal["orders"] == [row["id"]] and signal["source"] == "manual"


@pytest.mark.django_db
def test_a_script_places_an_api_order_with_its_key(api_client, alice, account):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=alice)}")

    placed = api_client.post("/api/v1/orders", {"action": "sell", "symbol": "GOLD", "volume": 0.01}, format="json")

    assert placed.status_code == 202
    assert Order.objects.get().source == "api"


@pytest.mark.django_db
def test_filters_and_clear(api_client, alice, account):
    api_client.force_login(alice)
    for symbol in ("BTCUSD", "GOLD"):
        api_client.post("/api/v1/orders/", {"action": "buy", "symbol": symbol, "volume": 0.01}, format="json")

    by_symbol = api_client.get("/api/v1/orders/", {"symbol": "gold"}).json()
    by_account = api_client.get("/api/v1/orders/", {"account": account.pk, "source": "manual"}).json()
    cleared = api_client.delete("/api/v1/orders/").json()

    assert [o["requested_symbol"] for o in by_symbol["results"]] == ["GOLD"]
    assert by_account["count"] == 2
    assert cleared == {"cleared": 2}
    assert api_client.get("/api/v1/orders/").json()["count"] == 0
    assert Order.objects.count() == 2  # kept for the audit


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"status": "done"}, {"account": "x"}, {"since": "yesterday"}, {"signal": "99999999999999999999999"}]
)
def test_bad_filters_are_400(api_client, alice, query):
    api_client.force_login(alice)

    response = api_client.get("/api/v1/orders/", query)

    assert response.status_code == 400 and response.json()["errors"]


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_400(api_client, alice, account):
    api_client.force_login(alice)

    response = api_client.post("/api/v1/orders/", [1, 2], format="json")

    assert response.status_code == 400 and not Order.objects.exists()
