"""The host agent's rounds bring each account's deals into the journal: attributed to our orders,
folded into trades, stored once whatever repeats, restarts or gaps, at a bounded query cost."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import webhook_token_reveal
from journal.models import Deal, DealCursor, Source, Trade
from live.models import Event
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import Order, SimAccount, SimDeal
from terminals.orders.drain import account_drain
from terminals.services import account_connect, simulated_host
from webhooks.models import Signal


def paper_account(owner, login="8300001"):
    return account_connect(owner=owner, login=login, password="pw", server="SimBroker-Demo", kind="simulated")


def alert(owner, body: dict) -> Signal:
    token = webhook_token_reveal(user=owner)
    response = Client().post(f"/webhook/{token}", json.dumps(body), content_type="text/plain")
    assert response.status_code == 202, response.content
    signal = Signal.objects.get(pk=response.json()["signal"])
    for account_id in {o.account_id for o in signal.orders.all()}:
        account_drain(account_id)
    return signal


def agent() -> HostAgent:
    return HostAgent(host=simulated_host(), open_driver=open_driver)


@pytest.mark.django_db
def test_a_filled_alert_becomes_a_deal_and_an_open_trade_of_its_signal(alice):
    account = paper_account(alice)
    signal = alert(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.02", "comment": "tv-breakout"})
    order = Order.objects.get(signal=signal)

    agent().tick()

    [deal] = Deal.objects.filter(account=account)
    assert (deal.order_id, deal.source, deal.kind, deal.side, deal.entry) == (
        order.pk,
        Source.WEBHOOK,
        "buy",
        "buy",
        "in",
    )
    assert deal.comment == order.client_id and str(deal.volume) == "0.0200"
    [trade] = Trade.objects.filter(account=account)
    assert (trade.status, trade.signal_id, trade.strategy, trade.order_id) == (
        "open",
        signal.pk,
        "tv-breakout",
        order.pk,
    )
    assert trade.open_price == deal.price and trade.source == Source.WEBHOOK
    [event] = Event.objects.filter(kind="deal")
    assert (event.owner_id, event.payload["ticket"], event.payload["order"]) == (alice.pk, deal.ticket, order.pk)


@pytest.mark.django_db
def test_a_close_by_alert_closes_the_trade_with_its_profit_net_of_costs(alice):
    account = paper_account(alice)
    alert(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.02", "comment": "swing"})
    position = simulated_driver(account).positions()[0].ticket
    alert(alice, {"action": "close", "symbol": "BTCUSD", "ticket": position})

    agent().tick()

    _, closing = Deal.objects.filter(account=account).order_by("ticket")
    [trade] = Trade.objects.filter(account=account)
    assert (trade.status, trade.closed_volume, trade.close_price) == ("closed", trade.volume, closing.price)
    assert trade.gross_profit == closing.profit and trade.profit == closing.profit + closing.commission
    assert trade.strategy == "swing" and trade.source == Source.WEBHOOK  # the opening's attribution
    assert trade.duration_s is not None and trade.pips is not None
    [closed] = Event.objects.filter(kind="trade_closed")
    assert closed.payload["id"] == trade.pk and closed.payload["profit"] == str(trade.profit)


@pytest.mark.django_db
def test_a_hand_trade_on_the_terminal_is_outside_the_service(alice):
    account = paper_account(alice)
    driver = simulated_driver(account)
    driver.order_send(OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.01, type=OrderType.SELL))

    agent().tick()

    [deal] = Deal.objects.filter(account=account)
    assert (deal.order_id, deal.source) == (None, Source.OUTSIDE)
    assert Trade.objects.get(account=account).source == Source.OUTSIDE


@pytest.mark.django_db
def test_rounds_restarts_and_gaps_store_each_deal_once(alice):
    account = paper_account(alice)
    alert(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
    agent().tick()
    agent().tick()  # a restarted agent: a new process, the cursor from the database
    alert(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
    # A gap: the cursor is hours old; everything since is read again, the known deal too.
    DealCursor.objects.filter(account=account).update(
        time_msc=int((timezone.now() - timedelta(hours=5)).timestamp() * 1000), recent={}
    )

    agent().tick()
    agent().tick()

    sim = SimAccount.objects.get(login=int(account.login))
    assert sorted(Deal.objects.filter(account=account).values_list("ticket", flat=True)) == sorted(
        SimDeal.objects.filter(account=sim).values_list("pk", flat=True)
    )
    assert Deal.objects.filter(account=account).count() == 2
    assert Event.objects.filter(kind="deal").count() == 2


@pytest.mark.django_db
def test_a_round_with_no_new_deals_costs_a_query_per_hundred_accounts(alice):
    accounts = [paper_account(alice, login=f"84{n:05d}") for n in range(100)]
    alert(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
    host_agent = agent()
    host_agent.tick()
    assert Deal.objects.count() == len(accounts)

    with CaptureQueriesContext(connection) as queries:
        host_agent.tick()

    # The equity points of the heartbeats (one insert a minute at most) are not the deals' cost.
    sqls = [q["sql"] for q in queries.captured_queries if "journal_equitypoint" not in q["sql"]]
    journal = [sql for sql in sqls if "journal_" in sql or "terminals_simdeal" in sql]
    # The cursors (one query) and the paper broker's deals of the chunk (one query): no write.
    assert len(journal) <= 2, journal
    assert not any(sql.startswith(("INSERT", "UPDATE")) for sql in journal)
