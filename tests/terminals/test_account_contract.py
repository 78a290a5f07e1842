"""/api/v1/accounts/ as the accounts contract wrote it (terminals.contract), beside today's fields."""

from decimal import Decimal

import pytest

from terminals.models import TradingAccount
from tests.factories import TradingAccountFactory

SERVER = "SimBroker-Demo"
LIMIT_COLUMNS = ["max_trade_risk_fraction", "max_daily_loss_fraction", "max_open_positions", "max_daily_loss"]


def connect(api_client, **fields):
    body = {"login": "8200001", "password": "paper-pass-1", "server": SERVER, "kind": "simulated", **fields}
    return api_client.post("/api/v1/accounts/connect", body, format="json")


@pytest.fixture
def signed_in(api_client, alice):
    api_client.force_login(alice)
    return api_client


@pytest.fixture
def account(signed_in) -> TradingAccount:
    return TradingAccount.objects.get(pk=connect(signed_in).json()["id"])


def limits(account: TradingAccount) -> dict:
    return TradingAccount.objects.filter(pk=account.pk).values(*LIMIT_COLUMNS, "nickname", "is_demo").get()


@pytest.mark.django_db
def test_a_contract_client_connects_a_live_account_and_makes_it_the_default(signed_in):
    connect(signed_in, login="8200009")  # the first account is the current one until another is made so

    response = connect(
        signed_in, account_name="Main live", broker_name="Paper Markets", account_type="live", set_as_default=True
    )

    body = response.json()
    assert response.status_code == 201
    assert body["success"] is True and body["account_id"] == body["id"]
    account = body["account"]
    assert account["id"] == body["account_id"] and account["login"] == "8200001"
    assert (account["account_name"], account["broker_name"], account["account_type"]) == (
        "Main live",
        "Paper Markets",
        "live",
    )
    assert account["is_default"] is True and account["is_active"] is True
    # Today's clients read the same fields at the top.
    assert body["nickname"] == "Main live" and body["is_demo"] is False and body["status"] == "online"
    stored = TradingAccount.objects.get(pk=body["id"])
    assert (stored.nickname, stored.broker, stored.is_demo, stored.is_current) == (
        "Main live",
        "Paper Markets",
        False,
        True,
    )
    assert TradingAccount.objects.filter(is_current=True).count() == 1


@pytest.mark.django_db
def test_today_connect_body_still_stores_a_demo_account_by_default(signed_in):
    body = connect(signed_in, nickname="paper", broker="SimBroker").json()

    assert (body["is_demo"], body["account_type"], body["account_name"]) == (True, "demo", "paper")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"account_type": "live", "is_demo": True}, "account_type"),
        ({"account_name": "one", "nickname": "two"}, "account_name"),
        ({"account_type": "real"}, "account_type"),
        ({"set_as_default": "perhaps"}, "set_as_default"),
        ({"risk_percent": 2}, "risk_percent"),
        ({"lot_size": 1}, "lot_size"),
    ],
)
def test_contradicting_bad_or_unknown_connect_fields_are_400_and_store_nothing(signed_in, fields, named):
    response = connect(signed_in, **fields)

    assert response.status_code == 400 and named in response.json()["errors"]
    assert not TradingAccount.objects.exists()


@pytest.mark.django_db
def test_the_contract_list_shape_is_asked_for_and_today_shape_stays_the_default(signed_in, alice, bob, account):
    TradingAccountFactory(owner=bob, nickname="bobs-account")
    TradingAccountFactory(owner=alice, login="8200002", nickname="second", status="stopped")

    contract = signed_in.get("/api/v1/accounts", {"shape": "contract"})
    today = signed_in.get("/api/v1/accounts/")
    refused = signed_in.get("/api/v1/accounts/", {"shape": "everything"})

    assert contract.status_code == 200 and set(contract.json()) == {"accounts"}
    rows = {row["login"]: row for row in contract.json()["accounts"]}
    assert set(rows) == {"8200001", "8200002"} and "bobs-account" not in contract.content.decode()
    assert (rows["8200001"]["is_active"], rows["8200001"]["is_default"]) == (True, True)
    assert (rows["8200002"]["is_active"], rows["8200002"]["is_default"]) == (False, False)
    assert rows["8200002"]["account_name"] == "second"
    assert set(today.json()) == {"count", "next", "previous", "results"} and today.json()["count"] == 2
    assert refused.status_code == 400 and "shape" in refused.json()["errors"]


@pytest.mark.django_db
def test_put_applies_the_contract_risk_limits_as_fractions_beside_the_amount(signed_in, account):
    body = {
        "account_name": "Renamed",
        "risk_limits": {"max_risk_per_trade": 0.02, "max_daily_loss": 0.03, "max_positions": 5},
        "max_daily_loss": "250.00",
    }

    response = signed_in.put(f"/api/v1/accounts/{account.pk}", body, format="json")

    assert response.status_code == 200, response.json()
    read = signed_in.get(f"/api/v1/accounts/{account.pk}/").json()
    assert read["risk_limits"] == {"max_risk_per_trade": 0.02, "max_daily_loss": 0.03, "max_positions": 5}
    assert read["max_daily_loss"] == "250.00" and read["max_daily_loss_fraction"] == "0.0300"
    assert read["account_name"] == "Renamed"
    assert limits(account) == {
        "max_trade_risk_fraction": Decimal("0.02"),
        "max_daily_loss_fraction": Decimal("0.03"),
        "max_open_positions": 5,
        "max_daily_loss": Decimal("250"),
        "nickname": "Renamed",
        "is_demo": True,
    }
    # null removes a limit.
    cleared = signed_in.patch(
        f"/api/v1/accounts/{account.pk}/", {"risk_limits": {"max_daily_loss": None}}, format="json"
    )
    assert cleared.json()["risk_limits"]["max_daily_loss"] is None
    assert cleared.json()["risk_limits"]["max_risk_per_trade"] == 0.02


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"risk_limits": {"max_daily_loss": 0.03, "max_lot": 1}}, '"max_lot"'),
        ({"risk_limits": {"max_drawdown": 0.1, "risk": 1}}, '"max_drawdown", "risk"'),
        ({"risk_limits": {"max_daily_loss": -0.03}}, "max_daily_loss"),
        ({"risk_limits": {"max_daily_loss": 3}}, "max_daily_loss"),
        ({"risk_limits": {"max_daily_loss": 0}}, "max_daily_loss"),
        ({"risk_limits": {"max_daily_loss": "0.03"}}, "max_daily_loss"),
        ({"risk_limits": {"max_risk_per_trade": True}}, "max_risk_per_trade"),
        ({"risk_limits": {"max_risk_per_trade": 0.000001}}, "max_risk_per_trade"),
        ('{"risk_limits": {"max_risk_per_trade": 1e999}}', "max_risk_per_trade"),
        ({"risk_limits": {"max_positions": -1}}, "max_positions"),
        ({"risk_limits": {"max_positions": "5"}}, "max_positions"),
        ({"risk_limits": {"max_positions": 2.5}}, "max_positions"),
        ({"risk_limits": [0.03]}, "risk_limits"),
        ({"max_daily_loss": 0.03}, "max_daily_loss"),
        ({"max_daily_loss_fraction": "1.5"}, "max_daily_loss_fraction"),
        ({"max_trade_risk_fraction": "-0.01"}, "max_trade_risk_fraction"),
        ({"risk_limits": {"max_positions": 3}, "max_open_positions": 4}, "max_open_positions"),
        ({"risk_limits": {"max_daily_loss": 0.03}, "max_daily_loss_fraction": "0.05"}, "max_daily_loss_fraction"),
        ({"account_type": "live", "is_demo": True}, "account_type"),
        ({"max_lots": 5}, "max_lots"),
    ],
)
def test_bad_or_unknown_risk_limits_are_400_naming_them_and_change_nothing(signed_in, account, body, named):
    signed_in.patch(f"/api/v1/accounts/{account.pk}/", {"risk_limits": {"max_positions": 7}}, format="json")
    before = limits(account)

    if isinstance(body, str):  # JSON no Python value encodes to
        response = signed_in.put(f"/api/v1/accounts/{account.pk}/", body, content_type="application/json")
    else:
        response = signed_in.put(f"/api/v1/accounts/{account.pk}/", {"account_name": "changed", **body}, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert named in errors or named in str(errors.get("risk_limits")), errors
    assert limits(account) == before


@pytest.mark.django_db
def test_same_limit_under_both_names_with_one_value_is_accepted(signed_in, account):
    body = {"risk_limits": {"max_positions": 3, "max_daily_loss": 0.05}, "max_open_positions": 3}
    body["max_daily_loss_fraction"] = "0.0500"

    response = signed_in.put(f"/api/v1/accounts/{account.pk}/", body, format="json")

    assert response.status_code == 200
    assert limits(account)["max_open_positions"] == 3


@pytest.mark.django_db
def test_is_active_stops_and_starts_and_is_default_switches(signed_in, account):
    other = TradingAccount.objects.get(pk=connect(signed_in, login="8200002").json()["id"])

    stopped = signed_in.put(f"/api/v1/accounts/{account.pk}/", {"is_active": False}, format="json")
    started = signed_in.put(f"/api/v1/accounts/{account.pk}/", {"is_active": True}, format="json")
    switched = signed_in.put(f"/api/v1/accounts/{other.pk}/", {"is_default": True}, format="json")
    refused = signed_in.put(f"/api/v1/accounts/{other.pk}/", {"is_default": False}, format="json")

    assert stopped.json()["is_active"] is False and stopped.json()["status"] == "stopped"
    assert started.json()["is_active"] is True and started.json()["status"] == "online"
    assert switched.json()["is_default"] is True
    assert refused.status_code == 400 and "is_default" in refused.json()["errors"]
    assert list(TradingAccount.objects.filter(is_current=True).values_list("pk", flat=True)) == [other.pk]


@pytest.mark.django_db
def test_a_body_read_back_changes_nothing(signed_in, account):
    read = signed_in.get(f"/api/v1/accounts/{account.pk}/").json()

    response = signed_in.put(f"/api/v1/accounts/{account.pk}/", read, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {**read, "heartbeat_at": response.json()["heartbeat_at"]}


@pytest.mark.django_db
def test_another_traders_account_is_404_to_put_and_unchanged(api_client, bob, account):
    api_client.force_login(bob)
    before = limits(account)

    response = api_client.put(
        f"/api/v1/accounts/{account.pk}/", {"risk_limits": {"max_daily_loss": 0.5}}, format="json"
    )

    assert response.status_code == 404 and limits(account) == before


@pytest.mark.django_db
def test_the_schema_documents_put_the_list_shapes_and_the_connect_envelope(signed_in):
    paths = signed_in.get("/api/schema/", headers={"Accept": "application/json"}).json()["paths"]

    listing = paths["/api/v1/accounts/"]["get"]
    assert "shape" in {parameter["name"] for parameter in listing["parameters"]}
    assert "put" in paths["/api/v1/accounts/{id}/"]
    connect_schema = paths["/api/v1/accounts/connect/"]["post"]["responses"]["201"]["content"]["application/json"]
    assert "ConnectResponse" in str(connect_schema)
