"""?format=csv on /api/v1/deals/ and /api/v1/trades/: streamed, filtered, a header row, formula
cells neutralised while numbers stay numbers."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from journal.csv_export import cell
from journal.models import Deal
from tests.factories import DealFactory, TradeFactory

MAY = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def signed_in(api_client, alice):
    api_client.force_login(alice)
    return api_client


@pytest.mark.django_db
def test_trades_csv_has_a_header_every_filtered_row_and_a_file_name(signed_in, alice, bob):
    wanted = [TradeFactory(owner=alice, symbol="XAUUSD", close_time=MAY) for _ in range(3)]
    TradeFactory(owner=alice, symbol="EURUSD")
    TradeFactory(owner=bob, symbol="XAUUSD")

    response = signed_in.get("/api/v1/trades/", {"format": "csv", "symbol": "XAUUSD", "page_size": 1})
    rows = rows_of(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trades-')
    assert response["Content-Disposition"].endswith('.csv"')
    assert [int(row["id"]) for row in rows] == sorted((t.pk for t in wanted), reverse=True)  # no pages in CSV
    assert {"open_time", "close_price", "profit", "pips", "strategy", "copy_pair"} <= set(rows[0])
    assert rows[0]["close_time"] == "2024-05-01T12:00:00+00:00"


@pytest.mark.django_db
def test_deals_csv_by_accept_header_too(signed_in, alice):
    DealFactory(owner=alice, comment="first deposit")

    response = signed_in.get("/api/v1/deals/", headers={"Accept": "text/csv"})

    assert rows_of(response)[0]["comment"] == "first deposit"
    assert response["Content-Disposition"].startswith('attachment; filename="deals-')


@pytest.mark.django_db
def test_formula_cells_are_neutralised_and_negative_numbers_stay_numbers(signed_in, alice):
    DealFactory(
        owner=alice,
        kind=Deal.Kind.SELL,
        side="sell",
        symbol="@SUM(A1)",
        comment='=HYPERLINK("http://evil.example","x")',
        profit=Decimal("-12.50"),
        commission=Decimal("-0.70"),
    )
    for comment in ("+cmd|' /C calc'!A0", "-2+3", "@risk", "\tx", "\rx", "-12.50"):
        DealFactory(owner=alice, comment=comment, profit=Decimal("5"))

    rows = rows_of(signed_in.get("/api/v1/deals/", {"format": "csv"}))
    sell = next(row for row in rows if row["side"] == "sell")
    comments = {row["comment"] for row in rows}

    assert sell["comment"] == '\'=HYPERLINK("http://evil.example","x")'
    assert sell["symbol"] == "'@SUM(A1)"
    assert (sell["profit"], sell["commission"]) == ("-12.50", "-0.70")  # numbers, not formulas
    assert comments - {sell["comment"]} == {"'+cmd|' /C calc'!A0", "'-2+3", "'@risk", "'\tx", "'\rx", "-12.50"}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1-1", "'+1-1"),
        ("-A1", "'-A1"),
        ("@x", "'@x"),
        ("-12.50", "-12.50"),  # text that is a plain number stays one
        ("+3", "+3"),
        ("plain", "plain"),
        (Decimal("-12.50"), Decimal("-12.50")),
        (-7, -7),
        (None, ""),
    ],
)
def test_cell_neutralises_text_only(value, shown):
    assert cell(value) == shown


@pytest.mark.django_db
def test_csv_takes_the_same_filters_and_errors_stay_json(signed_in, alice, bob):
    theirs = TradeFactory(owner=bob)

    bad_date = signed_in.get("/api/v1/trades/", {"format": "csv", "since": "2024-13-01"})
    foreign = signed_in.get("/api/v1/trades/", {"format": "csv", "account": theirs.account_id})

    assert bad_date.status_code == 400 and "since" in bad_date.json()["errors"]
    assert foreign.status_code == 404 and foreign["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_csv_of_nothing_is_the_header_alone(signed_in, alice):
    response = signed_in.get("/api/v1/trades/", {"format": "csv"})

    assert b"".join(response.streaming_content).decode().splitlines()[0].startswith("id,account,symbol,side")
    assert rows_of(signed_in.get("/api/v1/trades/", {"format": "csv"})) == []


@pytest.mark.django_db
def test_csv_streams_in_pieces_under_asgi(alice):
    for _ in range(3):
        TradeFactory(owner=alice)

    async def download() -> tuple[int, bool, str]:
        client = AsyncClient()
        await client.aforce_login(alice)
        response = await client.get("/api/v1/trades/", {"format": "csv"})
        # is_async: Django sends the pieces as they come, not drained into a list first.
        body = b"".join([piece async for piece in response.streaming_content]).decode()
        return response.status_code, response.is_async, body

    status, streamed, body = async_to_sync(download)()

    assert (status, streamed) == (200, True)
    assert len(body.splitlines()) == 4
