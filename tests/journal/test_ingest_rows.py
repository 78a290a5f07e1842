"""The journal's bulk writes (mt5saas.db.rows_insert, row_new) store what bulk_create stores,
and a store that brings many deals for one account tells the page to reload instead of sending
every deal as an event."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from journal.models import Deal, Source, Trade
from journal.services import deals_record
from live.models import Event
from mt5saas import db
from terminals.drivers.base import Deal as TerminalDeal
from terminals.drivers.base import DealEntry, DealReason, DealType
from tests.factories import OrderFactory, TradingAccountFactory

T0 = 1_780_000_000_000
SKIP = {"id", "open_deal", "stored_at"}


def trade(account, open_deal: int, **fields) -> dict:
    values = {
        "owner_id": account.owner_id, "account_id": account.pk, "position": 9, "open_deal": open_deal,
        "symbol": "EURUSD", "side": "buy", "volume": Decimal("0.1000"), "open_time": datetime(2026, 5, 1, 9, 30, 15,
        123000, tzinfo=UTC), "open_price": Decimal("1.10234000"), "status": Trade.Status.CLOSED,
        "close_time": timezone.now().replace(microsecond=654321), "close_price": Decimal("-0.00000001"),
        "gross_profit": Decimal("-12.34"), "commission": Decimal("-0.70"), "pips": None, "duration_s": None,
        "close_reason": Deal.Reason.SL, "source": Source.WEBHOOK, "strategy": "ünïcode ' \" %s", "order_id": None,
        "slippage_points": Decimal("-1.5"), "currency": "",
    }  # fmt: skip
    return values | fields


def read(model, **where) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in SKIP} for row in model.objects.filter(**where).values()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rows_per_statement", [1, 3, 2000])
def test_rows_insert_stores_what_bulk_create_stores(alice, monkeypatch, rows_per_statement):
    monkeypatch.setattr(db, "INSERT_ROWS", rows_per_statement)
    monkeypatch.setattr(db, "ARRAY_ROWS", rows_per_statement)
    account = TradingAccountFactory(owner=alice)
    order = OrderFactory(owner=alice, account=account)
    variants = [{}, {"order_id": order.pk, "pips": Decimal("12.3"), "duration_s": 3600}, {"close_time": None,
                "close_price": None, "slippage_points": None, "status": "open", "close_reason": ""}]  # fmt: skip
    Trade.objects.bulk_create([Trade(**trade(account, n, **v)) for n, v in enumerate(variants)])
    written = db.rows_insert([db.row_new(Trade, **trade(account, 100 + n, **v)) for n, v in enumerate(variants)])

    assert read(Trade, open_deal__gte=100) == read(Trade, open_deal__lt=100)
    ids = Trade.objects.filter(open_deal__gte=100).order_by("open_deal").values_list("pk", flat=True)
    assert [t.pk for t in written] == list(ids)
    assert all(not t._state.adding for t in written)


@pytest.mark.django_db(transaction=True)
def test_rows_insert_skips_a_row_a_unique_constraint_refuses(alice):
    account = TradingAccountFactory(owner=alice)
    first = db.rows_insert([db.row_new(Trade, **trade(account, 1))], unique=["account", "open_deal"])
    again = [db.row_new(Trade, **trade(account, n, strategy="again")) for n in (1, 2)]

    stored = db.rows_insert(again, unique=["account", "open_deal"])

    assert [t.open_deal for t in stored] == [2] and stored[0].pk != first[0].pk
    assert dict(Trade.objects.values_list("open_deal", "strategy")) == {1: "ünïcode ' \" %s", 2: "again"}


def test_row_new_refuses_a_field_the_model_does_not_have():
    with pytest.raises(TypeError, match="nope"):
        db.row_new(Trade, nope=1)


def round_trip(ticket: int, at: int, entry=DealEntry.IN, side=DealType.BUY) -> TerminalDeal:
    return TerminalDeal(
        ticket=ticket, order=ticket, position_id=ticket if entry == DealEntry.IN else ticket - 1, symbol="EURUSD",
        type=side, entry=entry, volume=0.1, price=1.1, profit=1.0 if entry == DealEntry.OUT else 0.0, magic=0,
        comment="", time_msc=T0 + at * 1000, reason=DealReason.TP if entry == DealEntry.OUT else DealReason.CLIENT,
    )  # fmt: skip


def history(trades: int) -> list[TerminalDeal]:
    deals = []
    for n in range(trades):
        deals += [round_trip(2 * n + 1, 2 * n), round_trip(2 * n + 2, 2 * n + 1, DealEntry.OUT, DealType.SELL)]
    return deals


@pytest.mark.django_db(transaction=True)
def test_many_deals_at_once_publish_the_newest_and_one_journal_reloaded(alice):
    account, other = TradingAccountFactory(owner=alice), TradingAccountFactory(owner=alice)

    deals_record(account, history(30))  # 60 deals: a first read
    deals_record(other, history(2))  # 4 deals: a round

    events = list(Event.objects.filter(owner=alice).order_by("id"))
    mine = [e for e in events if e.payload.get("account") == account.pk]
    deals = [e.payload["ticket"] for e in mine if e.kind == "deal"]
    assert deals == list(range(11, 61))  # the newest 50, oldest first
    closed = [e.payload["position"] for e in mine if e.kind == "trade_closed"]
    assert closed == list(range(1, 61, 2))  # 30 trades: all of them, under the 50
    assert mine[-1].kind == "journal_reloaded"
    assert mine[-1].payload == {"account": account.pk, "deals": 60, "trades": 30}
    theirs = [e.kind for e in events if e.payload.get("account") == other.pk]
    assert theirs == ["deal"] * 4 + ["trade_closed"] * 2
    assert Deal.objects.filter(account=account).count() == 60 and Trade.objects.filter(account=account).count() == 30


@pytest.mark.django_db(transaction=True)
def test_a_stored_deal_outside_the_window_is_not_stored_twice(alice):
    account = TradingAccountFactory(owner=alice)
    deals_record(account, [round_trip(1, 0)])
    moved = replace(round_trip(1, 0), time_msc=T0 + 3600_000)  # a broker that restamps a deal

    assert deals_record(account, [moved, round_trip(3, 7200)]) != []
    assert sorted(Deal.objects.values_list("ticket", flat=True)) == [1, 3]
    assert Deal.objects.get(ticket=1).time == datetime.fromtimestamp(T0 / 1000, tz=UTC)
