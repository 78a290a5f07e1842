import json

import pytest

from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.services import account_connect


@pytest.fixture
def page(client, alice):
    client.force_login(alice)
    account_connect(owner=alice, login="8920001", password="pw", server="SimBroker-Demo", kind="simulated")
    return client


@pytest.mark.django_db
def test_test_signal_form_places_orders_and_history_shows_them(page):
    body = json.dumps({"action": "BUY", "symbol": "BTCUSD", "volume": "0.01"})

    sent = page.post("/signals/test", {"body": body}, follow=True)
    account_drain(Order.objects.get().account_id)
    rows = page.get("/history", headers={"HX-Request": "true"}).text

    assert "accepted: 1 order(s) queued" in sent.text
    assert "filled" in rows and "BTCUSD" in rows and " ms" in rows and "<nav" not in rows


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["not json", "[1]", json.dumps({"action": "jump"})])
def test_bad_test_signals_say_why_and_place_nothing(page, body):
    response = page.post("/signals/test", {"body": body}, follow=True)

    assert "alert-danger" in response.text
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_history_filters_and_clear(page):
    for symbol in ("BTCUSD", "GOLD"):
        page.post("/signals/test", {"body": json.dumps({"action": "BUY", "symbol": symbol, "volume": "0.01"})})

    gold = page.get("/history", {"symbol": "GOLD"}).text
    bad = page.get("/history", {"since": "not a date", "status": "nope"})
    cleared = page.post("/history/clear", follow=True).text

    assert "GOLD" in gold and "BTCUSD" not in gold
    assert bad.status_code == 200
    assert "Cleared 2 order(s)" in cleared and 'data-testid="empty-state"' in cleared
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_dashboard_offers_the_test_signal_builder(page):
    html = page.get("/").text

    assert "data-signal-builder" in html and "8920001" in html
