"""Positions the terminal closed itself (stop loss, take profit, stop-out) raise their alert
once, on the channels chosen; the daily summary tells the day's realised P&L per account."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts import dispatch
from alerts.models import Alert, Delivery, Kind, Preference
from journal.models import Deal, Trade
from journal.signals import trades_closed
from live.models import Event
from tests.factories import TradeDealFactory, TradeFactory, TradingAccountFactory, UserFactory

from .helpers import add_endpoint, prefer

pytestmark = pytest.mark.django_db


def closed(owner, account, reason: str, **fields) -> Trade:
    defaults = {"symbol": "EURUSD", "side": "buy", "volume": Decimal("0.10"), "open_price": Decimal("1.08500"),
                "close_price": Decimal("1.08300"), "profit": Decimal("-20.00"), "currency": "USD"}  # fmt: skip
    return TradeFactory(owner=owner, account=account, close_reason=reason, **{**defaults, **fields})


def tell(*trades: Trade, capture) -> None:
    """As the journal's ingest does: inside the transaction that stores the deals."""
    with capture(execute=True):
        trades_closed.send(sender=Trade, trades=list(trades))


@pytest.fixture
def account(alice):
    return TradingAccountFactory(owner=alice, login="7100001")


def test_a_position_closed_by_its_stop_loss_is_told_in_the_app_once(
    alice, account, smtp, sync_queue, django_capture_on_commit_callbacks
):
    trade = closed(alice, account, Deal.Reason.SL)

    tell(trade, capture=django_capture_on_commit_callbacks)
    tell(trade, capture=django_capture_on_commit_callbacks)  # the same trade told again

    alert = Alert.objects.get(owner=alice)
    assert alert.kind == Kind.CLOSED_SL
    assert alert.title == "EURUSD buy closed by stop loss on 7100001: -20.00 USD"
    assert alert.text == (
        f"Position {trade.position} on account 7100001 was closed by its stop loss.\n"
        "EURUSD buy 0.1 lots, opened at 1.085, closed at 1.083: -20.00 USD (net of commission and swap)."
    )
    assert alert.data["trade"] == trade.pk and alert.data["close_reason"] == "sl"
    assert Event.objects.filter(owner=alice, kind="alert", payload__kind="closed_sl").count() == 1
    assert smtp.messages == []  # by default in the app only


def test_a_take_profit_goes_to_the_channels_chosen(
    alice, account, smtp, receiver, sync_queue, django_capture_on_commit_callbacks
):
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.CLOSED_TP, email=True, endpoints=[endpoint])
    trade = closed(alice, account, Deal.Reason.TP, close_price=Decimal("1.08900"), profit=Decimal("40.00"))

    tell(trade, closed(alice, account, Deal.Reason.SL), capture=django_capture_on_commit_callbacks)

    alert = Alert.objects.get(owner=alice)  # stop-loss alerts were switched off
    assert alert.title == "EURUSD buy closed by take profit on 7100001: +40.00 USD"
    ((rcpt, message),) = smtp.messages
    assert rcpt == [alice.email] and "closed at 1.089: +40.00 USD" in message.get_content()
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert (body["kind"], body["data"]["profit"]) == ("closed_tp", "40.00")
    assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_a_stop_out_is_one_alert_per_account_and_emailed_by_default(
    alice, account, smtp, sync_queue, django_capture_on_commit_callbacks
):
    other = TradingAccountFactory(owner=alice, login="7100002")
    first = closed(alice, account, Deal.Reason.SO, profit=Decimal("-80.00"))
    gold = {"symbol": "XAUUSD", "side": "sell", "volume": Decimal("0.02"), "open_price": Decimal("2400.10")}
    second = closed(alice, account, Deal.Reason.SO, **gold, close_price=Decimal("2411.10"), profit=Decimal("-22.00"))
    elsewhere = closed(alice, other, Deal.Reason.SO, profit=Decimal("-5.00"))

    tell(first, second, elsewhere, capture=django_capture_on_commit_callbacks)
    tell(first, second, capture=django_capture_on_commit_callbacks)

    alerts = list(Alert.objects.filter(owner=alice, kind=Kind.STOP_OUT).order_by("pk"))
    assert [a.title for a in alerts] == [
        "Stop-out on 7100001: 2 position(s) closed, -102.00 USD",
        "Stop-out on 7100002: 1 position(s) closed, -5.00 USD",
    ]
    assert alerts[0].text == (
        "The broker closed 2 position(s) on account 7100001: its margin level fell to the stop-out level.\n"
        "  EURUSD buy 0.1 lots, opened at 1.085, closed at 1.083: -80.00 USD\n"
        "  XAUUSD sell 0.02 lots, opened at 2400.1, closed at 2411.1: -22.00 USD\n"
        "Check the account's balance and margin before trading again."
    )
    assert [rcpt for rcpt, _ in smtp.messages] == [[alice.email], [alice.email]]


def test_trades_closed_otherwise_or_unwanted_raise_nothing(alice, bob, account, django_capture_on_commit_callbacks):
    prefer(bob, Kind.ORDER_FILLED, in_app=True)  # bob wants no closed-position alert
    theirs = closed(bob, TradingAccountFactory(owner=bob), Deal.Reason.SL)
    by_hand = closed(alice, account, Deal.Reason.CLIENT)
    by_us = closed(alice, account, Deal.Reason.EXPERT)
    # Read in a first read of the history: closed by its stop loss two days ago, no news now.
    history = closed(alice, account, Deal.Reason.SL, close_time=timezone.now() - timedelta(days=2))

    tell(theirs, by_hand, by_us, history, capture=django_capture_on_commit_callbacks)

    assert not Alert.objects.exists()


def test_a_failing_alert_never_reaches_the_deals_transaction(alice, account, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("mail queue down")

    monkeypatch.setattr("alerts.closed.alert_raise", broken)
    good = closed(alice, account, Deal.Reason.TP)

    trades_closed.send(sender=Trade, trades=[closed(alice, account, Deal.Reason.SL), good])

    assert "mail queue down" in caplog.text
    assert Trade.objects.filter(pk=good.pk).exists()


def test_the_daily_summary_tells_the_realised_pnl_per_account_and_currency(
    alice, bob, account, smtp, sync_queue, django_capture_on_commit_callbacks
):
    prefer(alice, Kind.DAILY_SUMMARY, email=True)
    euro = TradingAccountFactory(owner=alice, login="7100003", currency="EUR")
    now = timezone.now()
    deal = {"owner": alice, "account": account, "time": now - timedelta(hours=3), "entry": Deal.Entry.OUT}
    TradeDealFactory(**deal, profit=Decimal("-102.00"), commission=Decimal("-0.70"), swap=Decimal("-1.30"), reason="so")
    TradeDealFactory(**deal, profit=Decimal("25.00"), fee=Decimal("-0.50"))
    TradeDealFactory(**{**deal, "entry": Deal.Entry.IN}, commission=Decimal("-0.70"))
    TradeDealFactory(**{**deal, "kind": Deal.Kind.BALANCE, "side": "", "symbol": ""}, profit=Decimal("500.00"))
    TradeDealFactory(**{**deal, "time": now - timedelta(hours=30)}, profit=Decimal("999.00"))  # the day before
    TradeDealFactory(owner=alice, account=euro, time=now - timedelta(hours=1), currency="EUR", profit=Decimal("30.00"))
    TradeDealFactory(owner=bob, time=now - timedelta(hours=1), profit=Decimal("77.00"))
    closed(alice, account, Deal.Reason.SO, close_time=now - timedelta(hours=3))
    closed(alice, account, Deal.Reason.TP, close_time=now - timedelta(hours=30))

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.daily_summaries() == 2  # bob's too (in the app, his default)

    theirs = Alert.objects.get(owner=bob, kind=Kind.DAILY_SUMMARY)
    assert "+77.00 USD" in theirs.text and "7100001" not in theirs.text and "-80.20" not in theirs.text
    alert = Alert.objects.get(owner=alice, kind=Kind.DAILY_SUMMARY)
    assert (
        "Realised P&L (net of commission, swap and fees):\n"
        "  7100001: -80.20 USD, 1 trade(s) closed\n"
        "  7100003: +30.00 EUR, 0 trade(s) closed\n"
        "  Total: -80.20 USD, +30.00 EUR"
    ) in alert.text
    assert alert.data["pnl"] == {"USD": "-80.20", "EUR": "30.00"}
    ((_, message),) = smtp.messages
    assert "7100001: -80.20 USD" in message.get_content()


def test_a_summary_without_trading_says_so(alice, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.DAILY_SUMMARY, in_app=True)

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.daily_summaries()

    assert "Realised P&L: no trading deals." in Alert.objects.get(owner=alice).text


def test_a_new_trader_starts_with_the_closed_position_kinds():
    trader = UserFactory(email="new@example.test")

    mine = {p.kind: (p.in_app, p.email) for p in Preference.objects.owned_by(trader)}
    assert mine[Kind.CLOSED_SL] == (True, False) and mine[Kind.CLOSED_TP] == (True, False)
    assert mine[Kind.STOP_OUT] == (True, True)
