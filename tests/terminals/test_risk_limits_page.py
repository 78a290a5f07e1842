"""The risk limits on the Accounts pages: seen in the list, edited on the account's page in
percent (kept as fractions of the balance), bad input shown beside its field and nothing saved."""

from decimal import Decimal

import pytest

from terminals.models import TradingAccount
from tests.factories import TradingAccountFactory

LIMITS = [
    "max_lot", "max_open_positions", "max_daily_loss", "max_daily_loss_fraction", "max_trade_risk_fraction",
    "allowed_symbols", "max_trades_per_hour",
]  # fmt: skip
FORM = {
    "max_lot": "1.5",
    "max_open_positions": "4",
    "max_daily_loss": "250",
    "max_daily_loss_percent": "3",
    "max_trade_risk_percent": "1.25",
    "allowed_symbols": "gold, btcusd",
    "max_trades_per_hour": "20",
}


@pytest.fixture
def account(client, alice) -> TradingAccount:
    client.force_login(alice)
    client.post("/accounts", {"login": "8600001", "password": "pw", "server": "SimBroker-Demo", "kind": "simulated"})
    return TradingAccount.objects.get(login="8600001")


def limits(account) -> dict:
    return TradingAccount.objects.filter(pk=account.pk).values(*LIMITS).get()


@pytest.mark.django_db
def test_a_trader_sets_the_limits_in_percent_and_sees_them_on_both_pages(client, account):
    saved = client.post(f"/accounts/{account.pk}/limits", FORM, follow=True)

    assert saved.redirect_chain == [(f"/accounts/{account.pk}", 302)]
    assert "Risk limits of account 8600001 saved." in saved.text
    assert limits(account) == {
        "max_lot": Decimal("1.5"),
        "max_open_positions": 4,
        "max_daily_loss": Decimal("250"),
        "max_daily_loss_fraction": Decimal("0.03"),
        "max_trade_risk_fraction": Decimal("0.0125"),
        "allowed_symbols": ["BTCUSD", "GOLD"],
        "max_trades_per_hour": 20,
    }
    # The form shows them again as percent, and the list sums them up.
    assert 'name="max_daily_loss_percent" value="3"' in saved.text
    assert 'name="max_trade_risk_percent" value="1.25"' in saved.text
    table = client.get("/accounts/table").text
    for shown in (
        "≤ 1.50 lots",
        "≤ 4 open",
        "250.00 USD/day",
        "3 %/day",
        "1.25 %/trade",
        "BTCUSD, GOLD only",
        "20 trades/h",
    ):
        assert shown in table, shown


@pytest.mark.django_db
def test_emptying_a_field_removes_that_limit(client, account):
    client.post(f"/accounts/{account.pk}/limits", FORM)

    client.post(f"/accounts/{account.pk}/limits", {**FORM, "max_daily_loss_percent": "", "allowed_symbols": ""})

    assert limits(account)["max_daily_loss_fraction"] is None and limits(account)["allowed_symbols"] == []
    assert limits(account)["max_trade_risk_fraction"] == Decimal("0.0125")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_daily_loss_percent", "150", "less than or equal to 100"),
        ("max_daily_loss_percent", "-3", "greater than or equal to 0.01"),
        ("max_trade_risk_percent", "two", "Enter a number."),
        ("max_trade_risk_percent", "0.001", "no more than 2 decimal places"),
        ("max_daily_loss", "0.03", "greater than or equal to 1"),
        ("max_lot", "0", "greater than or equal to 0.01"),
        ("max_open_positions", "-1", "greater than or equal to 0"),
        ("max_trades_per_hour", "", "This field is required."),
        ("allowed_symbols", "GOLD, bad\x07name", "symbol"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(client, account, field, value, message):
    client.post(f"/accounts/{account.pk}/limits", FORM)
    before = limits(account)

    response = client.post(f"/accounts/{account.pk}/limits", {**FORM, "max_lot": "2", field: value})

    assert response.status_code == 400
    assert "Nothing was saved: fix the fields marked below." in response.text
    assert message in response.text
    assert f'class="form-control is-invalid" id="id_{field}"' in response.text
    assert limits(account) == before


@pytest.mark.django_db
def test_another_traders_account_limits_are_a_404_and_unchanged(client, bob, account):
    client.force_login(bob)
    before = limits(account)

    response = client.post(f"/accounts/{account.pk}/limits", FORM)

    assert response.status_code == 404 and limits(account) == before


@pytest.mark.django_db
def test_limits_set_through_the_api_show_on_the_page(client, api_client, alice, account):
    api_client.force_login(alice)
    api_client.patch(f"/api/v1/accounts/{account.pk}/", {"risk_limits": {"max_daily_loss": 0.05}}, format="json")
    TradingAccountFactory(owner=alice, login="8600002")

    page = client.get(f"/accounts/{account.pk}").text

    assert 'name="max_daily_loss_percent" value="5"' in page
    assert 'name="max_trade_risk_percent" value=""' in page
