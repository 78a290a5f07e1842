"""GET /api/v1/deals/ and /api/v1/trades/: filters, pages, bad input and tenancy, over HTTP."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.services import api_token_create
from journal.models import Deal, Source
from tests.factories import (
    CopyPairFactory,
    DealFactory,
    OrderFactory,
    TradeFactory,
    TradingAccountFactory,
)

MAY = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def trade(owner, **fields):
    return TradeFactory(owner=owner, **fields)


def deal(owner, **fields):
    return DealFactory(
        owner=owner, **{"kind": Deal.Kind.BUY, "side": "buy", "entry": "in", "symbol": "EURUSD", **fields}
    )


@pytest.fixture
def signed_in(api_client, alice):
    api_client.force_login(alice)
    return api_client


@pytest.mark.django_db
def test_trader_lists_own_closed_trades_newest_close_first_with_contract_fields(signed_in, alice, bob):
    older = trade(alice, close_time=MAY, profit=Decimal("-12.50"))
    newer = trade(alice, close_time=MAY + timedelta(hours=1))
    trade(alice, status="open", close_time=None, open_time=MAY)
    trade(bob, close_time=MAY)

    response = signed_in.get("/api/v1/trades/")

    assert ids(response) == [newer.pk, older.pk]
    row = response.json()["results"][1]
    contract = ["id", "account", "symbol", "side", "volume", "open_time", "open_price", "close_time", "close_price",
                "profit", "commission", "swap", "pips", "duration_s", "close_reason", "source", "strategy", "signal",
                "copy_pair", "slippage_points"]  # fmt: skip
    assert set(contract) <= set(row)
    assert row["profit"] == "-12.50" and row["account"] == older.account_id
    assert row["close_time"].startswith("2024-05-01T12:00:00")


@pytest.mark.django_db
def test_trader_lists_own_deals_money_movements_included_with_contract_fields(signed_in, alice, bob):
    order = OrderFactory(owner=alice)
    buy = deal(alice, time=MAY, order=order, reason="expert", profit=Decimal("0"))
    deposit = DealFactory(owner=alice, time=MAY - timedelta(days=1))
    deal(bob, time=MAY)

    response = signed_in.get("/api/v1/deals")

    assert ids(response) == [buy.pk, deposit.pk]
    row = response.json()["results"][0]
    contract = ["ticket", "account", "time", "symbol", "side", "entry", "volume", "price", "profit", "commission",
                "swap", "fee", "position", "reason", "order"]  # fmt: skip
    assert set(contract) <= set(row)
    assert (row["ticket"], row["order"], row["reason"], row["side"]) == (buy.ticket, order.pk, "expert", "buy")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("param", "mine", "other"),
    [
        ("symbol", {"symbol": "XAUUSD"}, {"symbol": "EURUSD"}),
        ("side", {"side": "sell"}, {"side": "buy"}),
        ("source", {"source": Source.COPY}, {"source": Source.WEBHOOK}),
        ("strategy", {"strategy": "breakout"}, {"strategy": "breakout-2"}),
    ],
)
def test_each_trade_filter_keeps_only_matching_trades(signed_in, alice, param, mine, other):
    wanted = trade(alice, close_time=MAY, **mine)
    trade(alice, close_time=MAY, **other)
    value = {"symbol": "xauusd", "side": "SELL"}.get(param, mine[param])  # symbol and side in any case

    assert ids(signed_in.get("/api/v1/trades/", {param: value})) == [wanted.pk]


@pytest.mark.django_db
def test_trades_filter_by_own_account_and_copy_pair(signed_in, alice):
    pair = CopyPairFactory(owner=alice)
    copied = trade(alice, account=pair.slave, copy_pair=pair, source=Source.COPY)
    other = trade(alice)

    assert ids(signed_in.get("/api/v1/trades/", {"account": other.account_id})) == [other.pk]
    assert ids(signed_in.get("/api/v1/trades/", {"copy_pair": pair.pk})) == [copied.pk]


@pytest.mark.django_db
def test_date_range_is_close_time_from_inclusive_until_date_whole_day(signed_in, alice):
    before = trade(alice, close_time=datetime(2024, 4, 30, 23, 59, tzinfo=UTC))
    first = trade(alice, close_time=datetime(2024, 5, 1, 0, 0, tzinfo=UTC))
    last = trade(alice, close_time=datetime(2024, 5, 31, 23, 59, tzinfo=UTC))
    after = trade(alice, close_time=datetime(2024, 6, 1, 0, 0, tzinfo=UTC))

    by_date = ids(signed_in.get("/api/v1/trades/", {"since": "2024-05-01", "until": "2024-05-31"}))
    aliases = ids(signed_in.get("/api/v1/trades/", {"date_from": "2024-05-01", "date_to": "2024-05-31"}))
    by_time = ids(signed_in.get("/api/v1/trades/", {"since": "2024-05-31T23:59:00Z", "until": "2024-06-01T00:00"}))

    assert by_date == aliases == [last.pk, first.pk]
    assert by_time == [last.pk]  # until a moment is exclusive
    assert before.pk not in by_date and after.pk not in by_date


@pytest.mark.django_db
def test_deals_filter_by_order_strategy_and_symbol(signed_in, alice):
    order = OrderFactory(owner=alice)
    opening = deal(alice, order=order, position=501)
    closing = deal(
        alice,
        account=opening.account,
        order=order,
        position=501,
        entry="out",
        side="sell",
        time=opening.time + timedelta(hours=1),
    )
    trade(alice, account=opening.account, position=501, strategy="breakout")
    deal(alice, symbol="XAUUSD")
    DealFactory(owner=alice)  # a deposit: no symbol

    assert ids(signed_in.get("/api/v1/deals/", {"order": order.pk})) == [closing.pk, opening.pk]
    assert ids(signed_in.get("/api/v1/deals/", {"strategy": "breakout"})) == [closing.pk, opening.pk]
    assert len(ids(signed_in.get("/api/v1/deals/", {"symbol": "EURUSD"}))) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-02-30"}, "since"),
        ({"until": "2024-05-01T25:00:00"}, "until"),
        ({"date_from": "1969-12-31"}, "date_from"),
        ({"until": "2101-01-01"}, "until"),
        ({"since": "2024-06-01", "until": "2024-05-01"}, "since"),
        ({"since": "2024-06-01", "date_from": "2024-06-01"}, "date_from"),
        ({"side": "long"}, "side"),
        ({"source": "telepathy"}, "source"),
        ({"account": "abc"}, "account"),
        ({"account": "-3"}, "account"),
        ({"copy_pair": "9" * 5000}, "copy_pair"),
        ({"symbol": "X" * 41}, "symbol"),
        ({"format": "xlsx"}, "format"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/trades/", "/api/v1/deals/"])
def test_bad_filter_is_a_400_naming_the_field(signed_in, alice, path, params, field):
    trade(alice)

    response = signed_in.get(path, params)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["account", "copy_pair", "order"])
@pytest.mark.parametrize("path", ["/api/v1/trades/", "/api/v1/deals/"])
def test_another_traders_or_unknown_id_in_a_filter_is_404(signed_in, alice, bob, path, name):
    theirs = {"account": TradingAccountFactory, "copy_pair": CopyPairFactory, "order": OrderFactory}[name](owner=bob)
    trade(bob)

    foreign = signed_in.get(path, {name: theirs.pk})
    missing = signed_in.get(path, {name: theirs.pk + 1000})

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()  # nothing tells "someone's" from "nobody's"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/trades/", "/api/v1/deals/"])
def test_another_traders_row_by_id_is_404(signed_in, bob, path):
    row = TradeFactory(owner=bob) if "trades" in path else DealFactory(owner=bob)

    assert signed_in.get(f"{path}{row.pk}/").status_code == 404


@pytest.mark.django_db
def test_own_row_by_id(signed_in, alice):
    mine = trade(alice)

    assert signed_in.get(f"/api/v1/trades/{mine.pk}/").json()["id"] == mine.pk


@pytest.mark.django_db
def test_pages_follow_the_project_shape_and_never_repeat_a_row(signed_in, alice):
    made = [trade(alice, close_time=MAY) for _ in range(5)]  # one close time: pk keeps the order

    first = signed_in.get("/api/v1/trades/", {"page_size": 2}).json()
    second = signed_in.get(first["next"]).json()
    third = signed_in.get(second["next"]).json()

    assert first["count"] == 5 and third["next"] is None
    listed = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert listed == sorted((t.pk for t in made), reverse=True)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["999999", "0", "abc", "9" * 400])
def test_page_past_the_end_or_not_a_number_is_404(signed_in, alice, page):
    trade(alice)

    response = signed_in.get("/api/v1/trades/", {"page": page})

    assert response.status_code == 404 and response.json()["detail"] == "Invalid page."


@pytest.mark.django_db
def test_signed_out_and_token_callers(api_client, alice):
    trade(alice)
    assert api_client.get("/api/v1/trades/").status_code in (401, 403)

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=alice)}")
    assert api_client.get("/api/v1/trades/").json()["count"] == 1


@pytest.mark.django_db
def test_lists_are_read_only(signed_in, alice):
    mine = trade(alice)

    assert signed_in.post("/api/v1/trades/", {}, format="json").status_code == 405
    assert signed_in.delete(f"/api/v1/trades/{mine.pk}/").status_code == 405
    assert signed_in.get(f"/api/v1/trades/{mine.pk}/").status_code == 200
