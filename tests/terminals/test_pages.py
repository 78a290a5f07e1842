import pytest

from terminals.drivers.base import Filling, OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import TradingAccount

FORM = {"login": "8400001", "password": "pw-page-1", "server": "SimBroker-Demo", "kind": "simulated", "is_demo": "on"}


@pytest.fixture
def page(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_trader_connects_from_the_accounts_page_and_sees_money_figures(page, alice):
    response = page.post("/accounts", FORM, follow=True)

    assert response.redirect_chain == [("/accounts", 302)]
    assert "Account 8400001 on SimBroker-Demo is online." in response.text
    table = page.get("/accounts/table").text
    assert "8400001" in table and "10000.00 USD" in table and "online" in table
    assert "pw-page-1" not in response.text + table
    assert TradingAccount.objects.get(login="8400001").owner == alice


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login": "12ab"}, "A login is 1 to 18 digits."),
        ({"password": ""}, "This field is required."),
        ({"server": "Nowhere-Live"}, "unknown trade server"),
    ],
)
def test_connect_form_errors_are_shown_and_nothing_is_stored(page, fields, message):
    response = page.post("/accounts", {**FORM, **fields})

    assert response.status_code == 400 and message in response.text
    assert not TradingAccount.objects.exists()


@pytest.mark.django_db
def test_account_page_shows_positions_and_instance_buttons_work(page):
    page.post("/accounts", FORM)
    account = TradingAccount.objects.get()
    simulated_driver(account).order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=0.03, type_filling=Filling.FOK
        )
    )

    detail = page.get(f"/accounts/{account.pk}").text
    stopped = page.post(f"/accounts/{account.pk}/stop", follow=True).text
    started = page.post(f"/accounts/{account.pk}/start", follow=True).text
    unknown = page.post(f"/accounts/{account.pk}/explode", follow=True).text

    assert "BTCUSD" in detail and "0.03" in detail and 'data-confirm="Delete this account? Its 1 open' in detail
    assert "Stop: account 8400001 is stopped." in stopped
    assert "Start: account 8400001 is online." in started
    assert "Unknown action." in unknown


@pytest.mark.django_db
def test_delete_from_the_page_keeps_history(page):
    page.post("/accounts", FORM)
    account = TradingAccount.objects.get()

    response = page.post(f"/accounts/{account.pk}/delete", follow=True)

    account.refresh_from_db()
    assert account.deleted_at is not None
    assert "deleted; its history is kept" in response.text
    assert page.get(f"/accounts/{account.pk}").status_code == 404


@pytest.mark.django_db
def test_symbol_map_editor_adds_refuses_and_removes(page):
    from terminals.models import SymbolMapping

    page.post("/accounts", FORM)
    account = TradingAccount.objects.get()

    added = page.post(f"/accounts/{account.pk}/mappings", {"requested": "xauusd", "broker_symbol": "GOLD"}, follow=True)
    refused = page.post(f"/accounts/{account.pk}/mappings", {"requested": "US30", "broker_symbol": "DOW"}, follow=True)
    mapping = SymbolMapping.objects.get()
    removed = page.post(f"/accounts/mappings/{mapping.pk}/delete", follow=True)

    assert "XAUUSD now trades as GOLD." in added.text
    assert "DOW is not a symbol on this account." in refused.text
    assert "Mapping of XAUUSD removed." in removed.text and not SymbolMapping.objects.exists()
