"""A pending (limit/stop) order is `placed` until the host agent sees it fill, or leave the
terminal's pending orders unfilled; never shown `filled` while it waits."""

import json
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.test import Client

from accounts.services import webhook_token_reveal
from live.models import Event
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import OrderRequest, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.paper.market import SERVERS, now_msc, quote
from terminals.services import account_connect, simulated_host
from tests.terminals.clocks import Clock, paper_terminals_on
from tests.terminals.interruptions import connection_drops, recording_final_states
from webhooks.models import Signal

SECOND = 1000


@pytest.fixture
def clock(monkeypatch):
    # Today, where the order's own stamps are: BTCUSD trades every day.
    return paper_terminals_on(Clock(now_msc()), monkeypatch)


def reachable_limit(spec, start: int) -> tuple[str, float, int]:
    """A limit order the paper market does not reach in the half minute after `start` (the
    test's own run, on the real clock) and reaches within two hours: its side, price and the
    moment it fills. A buy below the ask, or, when the market is at its lowest now, a sell
    above the bid: the half minute cannot hold both the lowest and the highest of two hours."""
    quotes = [quote(spec, start + second * SECOND) for second in range(2 * 3600)]
    buy = min(ask for _, ask in quotes[:30]) - spec.info.point
    sell = max(bid for bid, _ in quotes[:30]) + spec.info.point
    for second in range(30, len(quotes)):
        bid, ask = quotes[second]
        if ask < buy:
            return "buy", round(buy, spec.info.digits), start + second * SECOND
        if bid > sell:
            return "sell", round(sell, spec.info.digits), start + second * SECOND
    raise AssertionError("the paper market stood still for two hours")


@pytest.fixture
def account(alice):
    return account_connect(owner=alice, login="8300001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.fixture
def limit_order(alice, account, clock):
    """A limit order the terminal took: the order, its price and the moment it fills."""
    side, price, fills_at = reachable_limit(SERVERS[account.server]["BTCUSD"], clock.at)
    body = {"action": side, "symbol": "BTCUSD", "volume": "0.01", "order_type": "limit", "price": price}
    token = webhook_token_reveal(user=alice)
    response = Client().post(f"/webhook/{token}", json.dumps(body), content_type="text/plain")
    assert response.status_code == 202
    account_drain(account.pk)
    return Order.objects.get(), price, fills_at


def agent_round() -> None:
    HostAgent(host=simulated_host(), open_driver=open_driver).tick()


@pytest.mark.django_db
def test_a_pending_order_the_terminal_took_is_placed_not_filled(api_client, alice, limit_order):
    order, *_ = limit_order

    api_client.force_login(alice)
    row = api_client.get(f"/api/v1/orders/{order.pk}/").json()
    page = api_client.get("/history").content.decode()

    assert row["status"] == "placed" and row["ticket"] and row["fill_price"] is None
    assert 'text-bg-info" data-testid="order-status">placed<' in page
    assert Event.objects.filter(owner=alice, kind="order", payload__status="placed").exists()
    assert Signal.objects.get().status == Signal.Status.ACCEPTED


@pytest.mark.django_db
def test_a_placed_order_that_fills_on_the_terminal_becomes_filled_at_its_deal_price(alice, account, clock, limit_order):
    order, price, fills_at = limit_order
    agent_round()
    assert Order.objects.get().status == "placed"  # still waiting at its price

    clock.at = fills_at
    agent_round()

    order.refresh_from_db()
    positions = simulated_driver(account).positions()
    assert order.status == "filled" and order.filled_volume == Decimal("0.01")
    assert float(order.fill_price) <= price if order.side == "buy" else float(order.fill_price) >= price
    assert order.status_reason.startswith("The pending order filled at")
    assert [(p.symbol, p.volume) for p in positions] == [("BTCUSD", 0.01)]
    assert Event.objects.filter(owner=alice, kind="order", payload__status="filled").exists()


@pytest.mark.django_db
def test_a_placed_order_removed_on_the_terminal_becomes_cancelled_and_its_signal_unfilled(alice, account, limit_order):
    order, *_ = limit_order
    driver = simulated_driver(account)
    driver.order_send(OrderRequest(action=TradeAction.REMOVE, symbol="BTCUSD", order=order.ticket))

    agent_round()
    agent_round()  # a second round changes nothing more

    order.refresh_from_db()
    assert order.status == "cancelled" and "cancelled or expired" in order.status_reason
    assert Signal.objects.get().status == Signal.Status.UNFILLED
    assert Event.objects.filter(owner=alice, kind="order", payload__status="cancelled").count() == 1


@pytest.mark.django_db
def test_a_pending_order_left_sending_and_found_waiting_on_the_terminal_is_placed(alice, account, clock):
    """The worker died after the terminal took the pending order but before recording it."""
    from tests.terminals.test_execution import order

    side, price, _ = reachable_limit(SERVERS[account.server]["BTCUSD"], clock.at)
    interrupted = order(account, side=side, volume=Decimal("0.01"))
    Order.objects.filter(pk=interrupted.pk).update(symbol="BTCUSD", requested_symbol="BTCUSD", order_type="limit",
                                                   price=Decimal(str(price)))  # fmt: skip
    driver = simulated_driver(account)
    with connection_drops(recording_final_states), pytest.raises(DatabaseError):
        account_drain(account.pk)  # reached the broker…
    assert Order.objects.get(pk=interrupted.pk).status == "sending"  # …and nothing was recorded

    account_drain(account.pk)

    interrupted.refresh_from_db()
    assert interrupted.status == "placed" and "after an interruption" in interrupted.status_reason
    assert [o.ticket for o in driver.orders()] == [interrupted.ticket]
