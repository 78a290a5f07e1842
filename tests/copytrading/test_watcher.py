"""The host agent watches master terminals: trades made on the terminal itself are copied
within one round, once, without an EA."""

from decimal import Decimal

import pytest

from copytrading.models import CopyEvent
from copytrading.services import pair_create
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.services import simulated_host
from tests.copytrading.conftest import drain_all, positions


@pytest.fixture(autouse=True)
def open_market():
    """Real time here: the watcher reads deals by their time, and BTCUSD trades around the clock."""


def by_hand(account, **fields) -> int:
    """A trade made on the master terminal itself (no order of ours); sent again at the new
    price after a requote (the price moves every second, and a busy machine can be slower)."""
    driver = simulated_driver(account)
    for _ in range(5):
        tick = driver.tick("BTCUSD")
        request = {"action": TradeAction.DEAL, "symbol": "BTCUSD", "comment": "manual", **fields}
        if request["action"] == TradeAction.DEAL:
            request["price"] = tick.ask if request.get("type", OrderType.BUY) == OrderType.BUY else tick.bid
        result = driver.order_send(OrderRequest(**request))
        if result.retcode != 10004:
            break
    assert result.retcode == 10009, result
    return result.order


@pytest.mark.django_db
def test_the_watcher_copies_opens_stop_changes_partial_and_full_closes_once(paper):
    master, slave = paper("M"), paper("S", "SimBroker-Demo")
    pair_create(owner=master.owner, master=master, slave=slave, multiplier=Decimal("2"))
    before = by_hand(master, volume=0.01, type=OrderType.BUY)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()  # starts watching: the trade from before is not copied

    ticket = by_hand(master, volume=0.05, type=OrderType.BUY)
    agent.tick()
    drain_all()
    opened = [(p.symbol, p.volume) for p in positions(slave)]
    price = positions(master)[1].price_open
    by_hand(master, action=TradeAction.SLTP, position=ticket, sl=round(price - 2000, 2), tp=round(price + 2000, 2))
    agent.tick()
    drain_all()
    stops = [(p.sl, p.tp) for p in positions(slave)]
    by_hand(master, volume=0.02, type=OrderType.SELL, position=ticket)
    agent.tick()
    agent.tick()
    drain_all()
    partly = [p.volume for p in positions(slave)]
    by_hand(master, volume=0.03, type=OrderType.SELL, position=ticket)
    agent.tick()
    drain_all()

    assert before != ticket
    assert opened == [("BTCUSD", 0.1)]
    assert stops == [(round(price - 2000, 2), round(price + 2000, 2))]
    assert partly == [0.06]  # 0.1 less 2/5 of it
    assert positions(slave) == []
    kinds = list(CopyEvent.objects.order_by("pk").values_list("kind", "source", "order_id"))
    assert kinds == [
        ("deal_add", "watcher", str(ticket)), ("position_modify", "watcher", str(ticket)),
        ("deal_close", "watcher", str(ticket)), ("deal_close", "watcher", str(ticket)),
    ]  # fmt: skip


@pytest.mark.django_db
def test_copies_of_ours_on_a_master_are_passed_on_by_their_fill_not_by_the_watcher(paper):
    master, slave, grandchild = paper("M"), paper("S"), paper("G")
    pair_create(owner=master.owner, master=master, slave=slave)
    pair_create(owner=master.owner, master=slave, slave=grandchild)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()

    by_hand(master, volume=0.01, type=OrderType.BUY)
    agent.tick()
    drain_all()
    agent.tick()
    drain_all()

    # The slave's copy went on to the grandchild once, through the fill, not again through the watcher.
    assert [p.volume for p in positions(grandchild)] == [0.01]
    assert CopyEvent.objects.filter(master=slave).values_list("source", flat=True).get() == "cascade"


@pytest.mark.django_db
def test_a_master_whose_ea_reports_is_not_also_read_from_its_terminal(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair_create(owner=master.owner, master=master, slave=slave)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()
    ticket = by_hand(master, volume=0.02, type=OrderType.BUY)
    # The master's EA reports the same trade, without the deal ticket.
    trade(key, master, event="deal_add", order_id=str(ticket), symbol="BTCUSD", type="BUY", volume=0.02)
    by_hand(master, volume=0.01, type=OrderType.SELL, position=ticket)
    trade(key, master, event="deal_close", order_id=str(ticket), volume=0.01)

    agent.tick()
    drain_all()

    assert [p.volume for p in positions(slave)] == [0.01]
    assert set(CopyEvent.objects.values_list("source", flat=True)) == {"api"}
