"""The history reads one way: prices at the symbol's digits, lots without trailing zeros, the
retcode in words beside its number, times in the trader's zone with its offset."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape

import pytest

from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.services import account_connect
from tests.factories import OrderFactory, TradingAccountFactory


def row_of(html: str, order: Order) -> str:
    html = unescape(html)
    start = html.index(f'data-order="{order.pk}"')
    return html[start : html.index("</tr>", start)]


@pytest.mark.django_db
def test_an_executed_order_reads_at_its_symbols_digits_with_its_retcode_in_words(client, alice):
    client.force_login(alice)
    account_connect(owner=alice, login="8940001", password="pw", server="SimBroker-Demo", kind="simulated")
    client.post("/signals/test", {"body": json.dumps({"action": "BUY", "symbol": "EURUSD", "volume": "0.10"})})
    order = Order.objects.get()
    account_drain(order.account_id)
    order.refresh_from_db()

    row = row_of(client.get("/history").text, order)

    assert order.status == "filled" and order.digits == 5
    assert f"{order.fill_price.quantize(Decimal('0.00001')):f}" in row
    assert " 0.1 EURUSD" in row and "0.1000" not in row
    assert "Request completed (DONE 10009)" in row


@pytest.mark.django_db
def test_prices_volumes_and_retcodes_read_the_same_on_every_row(client, alice):
    client.force_login(alice)
    at_digits = OrderFactory(
        owner=alice, volume=Decimal("10.0000"), order_type="limit", price=Decimal("2412.3"), digits=2,
        fill_price=Decimal("2412.30000000"), status="filled", retcode=10009,
    )  # fmt: skip
    unknown_digits = OrderFactory(
        owner=alice, volume=Decimal("0.0500"), fill_price=Decimal("1.08120000"), status="rejected", retcode=10018,
        status_reason="Market is closed (MARKET_CLOSED 10018)",
    )  # fmt: skip

    html = client.get("/history").text
    first, second = row_of(html, at_digits), row_of(html, unknown_digits)

    assert " 10 BTCUSD limit @ 2412.30" in first and "1E+1" not in first
    assert 'data-testid="fill">2412.30<' in first
    assert " 0.05 BTCUSD" in second and 'data-testid="fill">1.0812<' in second
    assert second.count("Market is closed (MARKET_CLOSED 10018)") == 1


@pytest.mark.django_db
def test_times_are_shown_in_the_traders_zone_with_its_offset(client, alice):
    order = OrderFactory(owner=alice, created_at=datetime(2026, 1, 15, 12, 30, 5, tzinfo=UTC))
    client.force_login(alice)

    in_utc = row_of(client.get("/history").text, order)
    alice.time_zone = "Asia/Kolkata"
    alice.save()
    in_kolkata = row_of(client.get("/history").text, order)
    page = client.get("/history").text

    assert '<time datetime="2026-01-15T12:30:05+00:00">2026-01-15 12:30:05 UTC</time>' in in_utc
    assert "2026-01-15 18:00:05 +05:30</time>" in in_kolkata
    assert 'data-time-zone="Asia/Kolkata"' in page and 'data-testid="time-zone">Asia/Kolkata</a>' in page


@pytest.mark.django_db
def test_history_filters_read_times_in_the_traders_zone(client, alice):
    alice.time_zone = "America/New_York"
    alice.save()
    early = OrderFactory(owner=alice, created_at=datetime(2026, 1, 15, 14, 0, tzinfo=UTC))  # 09:00 in New York
    late = OrderFactory(owner=alice, created_at=datetime(2026, 1, 15, 16, 0, tzinfo=UTC))  # 11:00 in New York
    client.force_login(alice)

    html = client.get("/history", {"since": "2026-01-15T10:00"}).text

    assert f'data-order="{late.pk}"' in html and f'data-order="{early.pk}"' not in html


@pytest.mark.django_db
def test_the_next_page_keeps_the_filters_also_from_the_dashboards_table(client, alice):
    account = TradingAccountFactory(owner=alice)
    OrderFactory.create_batch(51, owner=alice, account=account, signal=None, requested_symbol="GOLD")
    client.force_login(alice)

    page = client.get("/history", {"symbol": "GOLD"}).text
    table = client.get("/history", headers={"HX-Request": "true"}).text

    assert 'href="/history?symbol=GOLD&amp;page=2"' in page
    assert 'href="/history?page=2"' in table
