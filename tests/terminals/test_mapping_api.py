import pytest

from terminals.models import SymbolMapping
from terminals.services import account_connect
from tests.factories import TradingAccountFactory


@pytest.fixture
def account(alice):
    return account_connect(owner=alice, login="8600001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.mark.django_db
def test_trader_sets_lists_and_deletes_a_custom_mapping(api_client, alice, account):
    api_client.force_login(alice)

    created = api_client.post(
        "/api/v1/symbol-mappings/", {"account": account.pk, "requested": "xauusd", "broker_symbol": "GOLD"}
    )
    listed = api_client.get("/api/v1/symbol-mappings", {"account": account.pk}).json()
    deleted = api_client.delete(f"/api/v1/symbol-mappings/{created.json()['id']}/")

    assert created.status_code == 201
    assert created.json()["requested"] == "XAUUSD" and created.json()["source"] == "custom"
    assert [(m["requested"], m["broker_symbol"]) for m in listed["results"]] == [("XAUUSD", "GOLD")]
    assert deleted.status_code == 204 and not SymbolMapping.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requested": "XAUUSD", "broker_symbol": "GOLDX"}, "broker_symbol"),
        ({"requested": "", "broker_symbol": "GOLD"}, "requested"),
        ({"requested": "X" * 41, "broker_symbol": "GOLD"}, "requested"),
        ({"requested": "XAU\u0000USD", "broker_symbol": "GOLD"}, "requested"),
    ],
)
def test_bad_mappings_are_400_and_nothing_is_stored(api_client, alice, account, body, field):
    api_client.force_login(alice)

    response = api_client.post("/api/v1/symbol-mappings/", {"account": account.pk, **body}, format="json")

    reply = response.json()
    # A NUL is refused with the body, naming the field, before the serializer reads it.
    assert response.status_code == 400
    assert field in reply.get("errors", {}) or reply["detail"].startswith(f"{field} contains a NUL")
    assert not SymbolMapping.objects.exists()


@pytest.mark.django_db
def test_a_mapping_on_another_traders_account_is_refused(api_client, alice, bob):
    theirs = TradingAccountFactory(owner=bob)
    api_client.force_login(alice)

    response = api_client.post(
        "/api/v1/symbol-mappings/", {"account": theirs.pk, "requested": "XAUUSD", "broker_symbol": "GOLD"}
    )

    assert response.status_code == 400 and "account" in response.json()["errors"]
    assert not SymbolMapping.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "-1", "abc"])
def test_a_bad_account_filter_is_400(api_client, alice, value):
    api_client.force_login(alice)

    response = api_client.get("/api/v1/symbol-mappings/", {"account": value})

    assert response.status_code == 400 and "account" in response.json()["errors"]
