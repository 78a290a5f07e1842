"""Deals into trades through journal.services.deals_record: closes by SL, partial closes, netting
additions and reversals, deals that come twice, late or out of order, and what attributes them."""

import logging
from decimal import Decimal

import pytest

from copytrading.models import CopyEvent, CopyExecution
from journal.models import Deal, Source, Trade
from journal.services import deals_record
from journal.signals import trades_closed
from terminals.drivers.base import Deal as TerminalDeal
from terminals.drivers.base import DealEntry, DealReason, DealType
from terminals.models import Order
from tests.factories import CopyPairFactory, OrderFactory, TradingAccountFactory

T0 = 1_780_000_000_000


def deal(ticket, entry, side=DealType.BUY, volume=0.1, price=100.0, *, position=7, profit=0.0, at=0, **fields):
    return TerminalDeal(
        ticket=ticket, order=fields.pop("order", ticket), position_id=position, symbol="EURUSD", type=side,
        entry=entry, volume=volume, price=price, profit=profit, magic=0, comment=fields.pop("comment", ""),
        time_msc=T0 + at * 1000, **fields,
    )  # fmt: skip


@pytest.fixture
def account(alice):
    return TradingAccountFactory(owner=alice)


@pytest.mark.django_db
def test_a_stop_loss_closes_the_trade_with_reason_sl_and_net_profit(account):
    closed = []
    trades_closed.connect(lambda sender, trades, **kw: closed.extend(trades), weak=False, dispatch_uid="t")
    try:
        deals_record(account, [deal(1, DealEntry.IN, price=1.1, commission=-0.5)])
        deals_record(account, [
            deal(2, DealEntry.OUT, DealType.SELL, price=1.095, profit=-50, at=90, reason=DealReason.SL,
                 commission=-0.5, swap=-0.2, comment="[sl 1.095]"),
        ])  # fmt: skip
    finally:
        trades_closed.disconnect(dispatch_uid="t")

    [trade] = Trade.objects.all()
    assert (trade.status, trade.close_reason, trade.side, trade.duration_s) == ("closed", "sl", "buy", 90)
    assert (trade.gross_profit, trade.commission, trade.swap) == (Decimal("-50"), Decimal("-1"), Decimal("-0.2"))
    assert trade.profit == Decimal("-51.20")
    assert closed == [trade]


@pytest.mark.django_db
def test_partial_closes_average_the_close_price_and_close_at_the_last(account):
    deals_record(account, [deal(1, DealEntry.IN, volume=0.3, price=1.1)])
    deals_record(account, [deal(2, DealEntry.OUT, DealType.SELL, volume=0.1, price=1.2, profit=10, at=10)])
    trade = Trade.objects.get()
    assert (trade.status, trade.closed_volume, trade.close_price) == ("open", Decimal("0.1"), Decimal("1.2"))

    deals_record(account, [deal(3, DealEntry.OUT, DealType.SELL, volume=0.2, price=1.35, profit=50, at=20)])

    trade.refresh_from_db()
    assert (trade.status, trade.closed_volume, trade.close_price) == ("closed", Decimal("0.3"), Decimal("1.3"))
    assert trade.profit == Decimal("60") and trade.pips is None  # digits unknown: no pips


@pytest.mark.django_db
def test_netting_additions_average_and_a_reverse_opens_the_next_trade(account):
    deals_record(account, [
        deal(1, DealEntry.IN, volume=0.1, price=1.0),
        deal(2, DealEntry.IN, volume=0.3, price=2.0, at=5),
        deal(3, DealEntry.INOUT, DealType.SELL, volume=0.6, price=3.0, profit=80, at=10),
        deal(4, DealEntry.OUT, DealType.BUY, volume=0.2, price=2.5, profit=10, at=20),
    ])  # fmt: skip

    first, second = Trade.objects.order_by("open_time")
    assert (first.side, first.volume, first.open_price, first.status) == (
        "buy",
        Decimal("0.4"),
        Decimal("1.75"),
        "closed",
    )
    assert (first.close_price, first.profit, first.open_deal) == (Decimal("3"), Decimal("80"), 1)
    assert (second.side, second.volume, second.open_price, second.open_deal) == (
        "sell",
        Decimal("0.2"),
        Decimal("3"),
        3,
    )
    assert (second.status, second.close_price, second.position) == ("closed", Decimal("2.5"), 7)


@pytest.mark.django_db
def test_repeats_and_deals_out_of_order_are_stored_once_in_their_place(account):
    close = deal(2, DealEntry.OUT, DealType.SELL, price=1.2, profit=10, at=10)
    deals_record(account, [close, close])  # the open is before the history read
    placeholder = Trade.objects.get()
    assert (placeholder.status, placeholder.source, placeholder.duration_s) == ("closed", Source.OUTSIDE, None)

    stored = deals_record(account, [deal(1, DealEntry.IN, price=1.1), close])

    assert [d.ticket for d in stored] == [1] and Deal.objects.count() == 2
    [trade] = Trade.objects.all()  # the same trade, now with its opening
    assert (trade.pk, trade.open_deal, trade.open_price, trade.duration_s) == (placeholder.pk, 1, Decimal("1.1"), 10)


@pytest.mark.django_db
def test_a_ticket_of_another_account_is_stored_for_each_and_logged(account, alice, caplog):
    other = TradingAccountFactory(owner=alice)
    deals_record(other, [deal(5, DealEntry.IN)])

    with caplog.at_level(logging.WARNING, logger="journal.ingest"):
        deals_record(account, [deal(5, DealEntry.IN)])

    assert sorted(Deal.objects.values_list("account_id", flat=True)) == sorted([account.pk, other.pk])
    assert "also stored for account" in caplog.text


@pytest.mark.django_db
def test_unknown_type_and_reason_are_kept_under_safe_values_and_logged(account, caplog):
    with caplog.at_level(logging.WARNING, logger="journal.ingest"):
        deals_record(account, [deal(1, 0, 99, volume=0, profit=12.5, reason=42, position=0)])

    stored = Deal.objects.get()
    assert (stored.kind, stored.reason, stored.side, stored.profit) == ("correction", "client", "", Decimal("12.50"))
    assert "unknown deal type 99" in caplog.text and "unknown deal reason 42" in caplog.text
    assert not Trade.objects.exists()


@pytest.mark.django_db
def test_an_order_of_ours_attributes_by_client_id_or_ticket_and_never_across_accounts(account, alice):
    mine = OrderFactory(owner=alice, account=account, price=Decimal("1.1000"), digits=5, comment="tv-trend")
    theirs = OrderFactory(owner=alice)
    Order.objects.filter(pk=mine.pk).update(ticket=900)

    deals_record(account, [
        deal(1, DealEntry.IN, price=1.1003, comment=f"x {mine.client_id}"),
        deal(2, DealEntry.IN, position=8, order=900),
        deal(3, DealEntry.IN, position=9, comment=theirs.client_id),
    ])  # fmt: skip

    assert dict(Deal.objects.values_list("ticket", "order_id")) == {1: mine.pk, 2: mine.pk, 3: None}
    trade = Trade.objects.get(position=7)
    assert (trade.signal_id, trade.strategy, trade.slippage_points) == (
        mine.signal_id,
        "tv-trend",
        Decimal("30.0"),
    )  # 3 pips


@pytest.mark.django_db
def test_a_copy_order_gives_its_trade_the_copy_pair(alice):
    pair = CopyPairFactory(owner=alice)
    copy = OrderFactory(owner=alice, account=pair.slave, signal=None, source="copy", link="COPY_123")
    event = CopyEvent.objects.create(
        owner=alice, master=pair.master, kind="deal_add", order_id="123", sl=Decimal(0), tp=Decimal(0)
    )
    CopyExecution.objects.create(owner=alice, event=event, pair=pair, slave=pair.slave, order=copy)

    deals_record(pair.slave, [deal(1, DealEntry.IN, comment=copy.terminal_comment)])

    trade = Trade.objects.get()
    assert (trade.source, trade.copy_pair_id, trade.order_id, trade.slippage_points) == ("copy", pair.pk, copy.pk, None)
