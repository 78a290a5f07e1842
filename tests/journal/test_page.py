"""The Journal page (/journal/) through the Django test client: what it shows, how it filters,
what it refuses (a bad filter is a 400 naming the field, another trader's account a 404) and its
parts served alone for the live reloads."""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from journal.models import Deal, Source
from tests.factories import CopyPairFactory, DealFactory, EquityPointFactory, TradeFactory, TradingAccountFactory

pytestmark = pytest.mark.django_db

MARCH_3 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday


def rows(html: str, attribute: str) -> list[str]:
    """The ids of the table rows carrying `attribute` (data-trade, data-deal), in page order."""
    return re.findall(rf'<tr {attribute}="(\d+)"', html)


def shown(client, query: dict | None = None) -> str:
    """The page as a browser shows it once its parts have loaded: the page, then the statistics,
    breakdowns and calendar it asks for on load."""
    page = client.get("/journal/", query or {})
    assert page.status_code == 200
    parts = [client.get(f"/journal/{part}", query or {}) for part in ("stats", "breakdowns", "calendar")]
    assert all(part.status_code == 200 for part in parts)
    return page.text + "".join(f"<section>{part.text}</section>" for part in parts)  # as the page holds them


def chart(html: str) -> dict:
    found = re.search(r'<script id="journal-equity-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no chart data on the page"
    return json.loads(found[1])


@pytest.fixture
def account(alice):
    return TradingAccountFactory(owner=alice, nickname="Main", currency="USD")


def test_anonymous_visitor_is_sent_to_sign_in(client):
    for path in ("/journal/", "/journal", "/journal/trades", "/journal/stats"):
        response = client.get(path)

        assert response.status_code == 302, path
        assert response["Location"].startswith("/login?next=/journal"), path


def test_new_trader_sees_an_empty_journal_that_says_what_will_appear(client, alice):
    client.force_login(alice)

    html = shown(client)

    assert 'data-testid="trades-empty"' in html and "No closed trades yet" in html
    assert 'data-testid="deals-empty"' in html
    assert 'data-testid="stats-empty"' in html
    assert 'data-testid="calendar-empty"' in html
    assert 'data-testid="chart-empty"' in html
    assert 'href="/journal">Journal</a>' in html and 'aria-current="page"' in html


def test_the_page_lists_at_once_and_loads_the_aggregates_as_parts(client, alice, account):
    trade = TradeFactory(owner=alice, account=account)
    client.force_login(alice)

    html = client.get("/journal/", {"symbol": "EURUSD"}).text

    assert rows(html, "data-trade") == [str(trade.pk)]
    assert 'data-testid="stats-loading"' in html and 'data-testid="stat-net-profit"' not in html
    for part in ("stats", "breakdowns", "calendar"):
        assert f'hx-get="/journal/{part}?symbol=EURUSD&amp;page=1&amp;deals_page=1" hx-trigger="load"' in html


def test_trader_sees_closed_trades_newest_first_with_totals_and_statistics(client, alice, account):
    older = TradeFactory(owner=alice, account=account, profit=Decimal("-5.00"), close_time=MARCH_3)
    newer = TradeFactory(owner=alice, account=account, profit=Decimal("12.50"), close_time=MARCH_3 + timedelta(hours=2))
    TradeFactory(owner=alice, account=account, status="open", open_time=MARCH_3, close_time=None, profit=Decimal("99"))
    client.force_login(alice)

    html = shown(client)

    assert rows(html, "data-trade") == [str(newer.pk), str(older.pk)]  # the open one is not a closed trade
    total = re.search(r'data-testid="trades-total">(.*?)</tr>', html, re.S)[1]
    assert "2 trades" in total and "7.50" in total
    stats = re.search(r'data-testid="stats" data-currency="USD">(.*?)</section>', html, re.S)[1]
    assert re.search(r'stat-net-profit">7.50<', stats)
    assert re.search(r'stat-win-rate">50.0 %<', stats)
    assert re.search(r'stat-profit-factor">2.50<', stats)  # 12.50 won / 5.00 lost
    assert re.search(r'stat-largest">12.50 / -5.00<', stats)


def test_currencies_get_a_set_of_figures_each_and_are_never_added(client, alice, account):
    euro = TradingAccountFactory(owner=alice, currency="EUR")
    TradeFactory(owner=alice, account=account, profit=Decimal("10.00"))
    TradeFactory(owner=alice, account=euro, currency="EUR", profit=Decimal("-3.00"))
    client.force_login(alice)

    html = shown(client)

    assert re.findall(r'data-testid="stats" data-currency="(\w+)"', html) == ["EUR", "USD"]
    assert re.findall(r'stat-net-profit">([^<]+)<', html) == ["-3.00", "10.00"]
    assert len(re.findall(r'data-testid="trades-total"', html)) == 2


def test_filters_choose_the_trades_and_the_form_keeps_them(client, alice, account):
    other = TradingAccountFactory(owner=alice, currency="USD")
    chosen = TradeFactory(
        owner=alice, account=account, symbol="XAUUSD", side="sell", strategy="breakout", source=Source.WEBHOOK
    )
    TradeFactory(owner=alice, account=account, symbol="XAUUSD", side="buy", strategy="breakout", source=Source.WEBHOOK)
    TradeFactory(owner=alice, account=account, symbol="EURUSD", side="sell", strategy="breakout", source=Source.WEBHOOK)
    TradeFactory(owner=alice, account=other, symbol="XAUUSD", side="sell", strategy="breakout", source=Source.WEBHOOK)
    TradeFactory(owner=alice, account=account, symbol="XAUUSD", side="sell", strategy="scalp", source=Source.WEBHOOK)
    TradeFactory(owner=alice, account=account, symbol="XAUUSD", side="sell", strategy="breakout", source=Source.COPY)
    client.force_login(alice)
    query = {"account": account.pk, "symbol": "XAUUSD", "side": "sell", "strategy": "breakout", "source": "webhook"}

    html = client.get("/journal/", query).text

    assert rows(html, "data-trade") == [str(chosen.pk)]
    assert f'<option value="{account.pk}" selected>Main</option>' in html
    assert '<option value="sell" selected>' in html and '<option value="webhook" selected>' in html
    assert 'name="symbol" value="XAUUSD"' in html and 'name="strategy" value="breakout"' in html


def test_date_range_chooses_by_close_time(client, alice, account):
    TradeFactory(owner=alice, account=account, close_time=MARCH_3 - timedelta(days=1))
    inside = TradeFactory(owner=alice, account=account, close_time=MARCH_3)
    TradeFactory(owner=alice, account=account, close_time=MARCH_3 + timedelta(days=1))
    client.force_login(alice)

    html = client.get("/journal/", {"since": "2025-03-03T00:00", "until": "2025-03-04T00:00"}).text

    assert rows(html, "data-trade") == [str(inside.pk)]


def test_copy_pair_filter_and_breakdown_name_the_pair(client, alice, account):
    pair = CopyPairFactory(owner=alice, slave=account)
    copied = TradeFactory(owner=alice, account=account, copy_pair=pair, source=Source.COPY)
    TradeFactory(owner=alice, account=account)
    client.force_login(alice)

    html = shown(client, {"copy_pair": pair.pk})

    assert rows(html, "data-trade") == [str(copied.pk)]
    breakdown = re.search(r'data-testid="breakdown-copy-pair">(.*?)</table>', html, re.S)[1]
    assert f"{pair.master} → {pair.slave}" in breakdown


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-13-45T99:00"}, "until"),
        ({"side": "sideways"}, "side"),
        ({"source": "telepathy"}, "source"),
        ({"account": "abc"}, "account"),
        ({"copy_pair": "1e9"}, "copy_pair"),
    ],
)
def test_a_filter_that_cannot_be_read_is_a_400_naming_the_field(client, alice, account, query, field):
    TradeFactory(owner=alice, account=account)
    client.force_login(alice)

    page = client.get("/journal/", query)
    part = client.get("/journal/trades", query)

    assert page.status_code == 400
    assert 'data-testid="filter-errors"' in page.text and f"<li>{field}: " in page.text
    assert f'name="{field}"' in page.text  # the form is there to fix it
    assert 'data-trade="' not in page.text
    assert part.status_code == 400 and f"<li>{field}: " in part.text


def test_another_traders_account_or_pair_is_a_404_and_shows_nothing_of_theirs(client, alice, bob, account):
    TradeFactory(owner=alice, account=account, strategy="alice-secret-strategy")
    pair = CopyPairFactory(owner=alice)
    client.force_login(bob)

    for path in ("/journal/", "/journal/trades", "/journal/deals", "/journal/stats"):
        for query in ({"account": account.pk}, {"copy_pair": pair.pk}):
            response = client.get(path, query)

            assert response.status_code == 404, (path, query)
            assert "alice-secret-strategy" not in response.text


def test_a_trader_sees_only_their_own_trades_and_deals(client, alice, bob, account):
    TradeFactory(owner=alice, account=account, strategy="alice-secret-strategy")
    DealFactory(owner=alice, account=account, comment="alice-secret-comment")
    bobs = TradeFactory(owner=bob)
    client.force_login(bob)

    html = client.get("/journal/").text

    assert rows(html, "data-trade") == [str(bobs.pk)]
    assert "alice-secret" not in html and "Main" not in html


def test_deals_tab_lists_every_deal_with_its_cause_money_movements_too(client, alice, account):
    opening = DealFactory(owner=alice, account=account, time=MARCH_3, source=Source.WEBHOOK, reason=Deal.Reason.EXPERT)
    closing = DealFactory(
        owner=alice, account=account, time=MARCH_3 + timedelta(minutes=5), side="sell", kind=Deal.Kind.SELL,
        entry=Deal.Entry.OUT, reason=Deal.Reason.SL, profit=Decimal("-20.00"), position=opening.position,
    )  # fmt: skip
    deposit = DealFactory(
        owner=alice, account=account, time=MARCH_3 - timedelta(days=1), kind=Deal.Kind.BALANCE, side="", entry="",
        symbol="", volume=0, price=0, profit=Decimal("1000.00"),
    )  # fmt: skip
    client.force_login(alice)

    html = client.get("/journal/", {"tab": "deals"}).text

    assert rows(html, "data-deal") == [str(closing.ticket), str(opening.ticket), str(deposit.ticket)]
    assert 'id="tab-deals" role="tabpanel"' in html and 'class="tab-pane show active" id="tab-deals"' in html
    closing_row = re.search(rf'<tr data-deal="{closing.ticket}">(.*?)</tr>', html, re.S)[1]
    assert '<td class="small">SL</td>' in closing_row
    assert "-20.00" in closing_row and "Outside the service" in closing_row
    deposit_row = re.search(rf'<tr data-deal="{deposit.ticket}">(.*?)</tr>', html, re.S)[1]
    assert "Balance" in deposit_row and "1000.00" in deposit_row


def test_huge_and_odd_page_numbers_show_a_page_never_an_error(client, alice, account):
    for _ in range(3):
        TradeFactory(owner=alice, account=account)
    client.force_login(alice)

    for page in ("999999999999999999999999", "-1", "x", "1e9", ""):
        response = client.get("/journal/", {"page": page, "deals_page": page})

        assert response.status_code == 200, page
        assert len(rows(response.text, "data-trade")) == 3


def test_trades_are_paginated_fifty_a_page_and_links_keep_the_filter(client, alice, account):
    for minute in range(51):
        TradeFactory(owner=alice, account=account, symbol="XAUUSD", close_time=MARCH_3 + timedelta(minutes=minute))
    client.force_login(alice)

    first = client.get("/journal/", {"symbol": "XAUUSD"}).text
    second = client.get("/journal/", {"symbol": "XAUUSD", "page": "2"}).text

    assert len(rows(first, "data-trade")) == 50 and len(rows(second, "data-trade")) == 1
    assert 'href="/journal/?symbol=XAUUSD&amp;tab=trades&amp;page=2"' in first
    # The totals are the filter's, not the page's.
    assert "51 trades" in second


def test_csv_links_and_live_parts_carry_the_filter(client, alice, account):
    client.force_login(alice)

    html = client.get("/journal/", {"symbol": "XAUUSD", "side": "buy", "page": "1", "tab": "deals"}).text

    assert 'href="/api/v1/trades/?format=csv&amp;symbol=XAUUSD&amp;side=buy"' in html
    assert 'href="/api/v1/deals/?format=csv&amp;symbol=XAUUSD&amp;side=buy"' in html
    assert (
        'data-live-rows="/journal/deals?symbol=XAUUSD&amp;side=buy&amp;page=1&amp;deals_page=1" '
        'data-live-on="deal journal_reloaded"' in html
    )
    assert 'data-live-rows="/journal/trades?symbol=XAUUSD&amp;side=buy&amp;page=1&amp;deals_page=1"' in html
    assert 'data-live-on="deal trade_closed journal_reloaded"' in html  # the statistics


def test_parts_are_served_alone_for_the_live_reloads(client, alice, account):
    trade = TradeFactory(owner=alice, account=account)
    deal = DealFactory(owner=alice, account=account)
    client.force_login(alice)

    parts = {name: client.get(f"/journal/{name}") for name in ("trades", "deals", "stats", "breakdowns", "calendar")}

    assert all(response.status_code == 200 for response in parts.values())
    assert all("<html" not in response.text for response in parts.values())
    assert rows(parts["trades"].text, "data-trade") == [str(trade.pk)]
    assert rows(parts["deals"].text, "data-deal") == [str(deal.ticket)]
    assert 'data-testid="stat-net-profit"' in parts["stats"].text
    assert client.get("/journal/nothing").status_code == 404


def test_calendar_colours_each_day_by_its_net_result(client, alice, account):
    TradeFactory(owner=alice, account=account, close_time=MARCH_3, profit=Decimal("10.00"))
    TradeFactory(owner=alice, account=account, close_time=MARCH_3 + timedelta(hours=1), profit=Decimal("-4.00"))
    TradeFactory(owner=alice, account=account, close_time=MARCH_3 + timedelta(days=1), profit=Decimal("-2.50"))
    client.force_login(alice)

    html = client.get("/journal/calendar").text

    assert "March 2025" in html
    assert re.search(r'class="bg-success-subtle[^"]*" data-day="2025-03-03" data-tone="win">.*?6.00<', html, re.S)
    assert re.search(r'class="bg-danger-subtle[^"]*" data-day="2025-03-04" data-tone="loss">.*?-2.50<', html, re.S)
    assert 'data-day="2025-03-05">' in html  # a day without trades: no colour
    assert len(re.findall(r"data-day=", html)) == 31


def test_chart_has_each_accounts_curve_and_all_accounts_summed_per_currency(client, alice, account):
    second = TradingAccountFactory(owner=alice, nickname="Second", currency="USD")
    euro = TradingAccountFactory(owner=alice, nickname="Euro", currency="EUR")
    EquityPointFactory(owner=alice, account=account, at=MARCH_3, balance="1000.00", equity="1000.00")
    EquityPointFactory(
        owner=alice, account=second, at=MARCH_3 + timedelta(minutes=1), balance="500.00", equity="505.00"
    )
    EquityPointFactory(
        owner=alice, account=account, at=MARCH_3 + timedelta(minutes=2), balance="1100.00", equity="1090.00"
    )
    EquityPointFactory(owner=alice, account=euro, at=MARCH_3, balance="800.00", equity="800.00")
    client.force_login(alice)

    data = chart(client.get("/journal/").text)
    only_main = chart(client.get("/journal/", {"account": account.pk}).text)

    assert [line["label"] for line in data["accounts"]] == ["Main", "Second", "Euro"]
    assert [point[1:] for point in data["accounts"][0]["points"]] == [["1000.00", "1000.00"], ["1100.00", "1090.00"]]
    # Each moment: every USD account's latest point added; the EUR account is never added to them.
    [usd] = data["totals"]
    assert usd["label"] == "All accounts (USD)"
    assert [point[1:] for point in usd["points"]] == [
        ["1000.00", "1000.00"],
        ["1500.00", "1505.00"],
        ["1600.00", "1595.00"],
    ]
    assert [line["label"] for line in only_main["accounts"]] == ["Main"] and only_main["totals"] == []


def test_the_page_reads_its_rows_accounts_with_them(client, alice, account, django_assert_max_num_queries):
    other = TradingAccountFactory(owner=alice)
    for n in range(30):
        TradeFactory(owner=alice, account=account if n % 2 else other)
    client.force_login(alice)

    with django_assert_max_num_queries(25):  # not one query a row
        assert client.get("/journal/").status_code == 200
