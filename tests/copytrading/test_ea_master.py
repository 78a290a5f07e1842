"""The EA's master mode (docs/ea-protocol.md, "Master events") against POST /api/copy/trade:
the simulated master EA reads a paper master's trades and posts them as the MQL5 EA does,
through outages, lost answers and restarts, and every trade is copied exactly once."""

import json

import pytest
from django.test import Client

from copytrading.models import CopyEvent
from copytrading.services import pair_create
from terminals import gateway
from terminals.drivers.base import Filling, OrderRequest, OrderType, TradeAction
from terminals.models import Order
from tests.copytrading.conftest import drain_all, positions
from tests.fakes.ea_simulator import EAMaster


class Service:
    """POST /api/copy/trade as the EA's WebRequest sees it: up, down (no answer), or up with
    the answer lost on the way back (the event is stored, the EA sees a timeout)."""

    def __init__(self, key: str) -> None:
        self.key, self.mode, self.delivered = key, "up", []

    def post(self, body: str) -> int:
        if self.mode == "down":
            return -1
        reply = Client().post("/api/copy/trade", body, content_type="application/json", headers={"X-API-Key": self.key})
        self.delivered.append((json.loads(body)["event"], reply.status_code))
        return -1 if self.mode == "answer lost" else reply.status_code


@pytest.fixture
def setup(paper, alice, tmp_path):
    master, slave = paper("master"), paper("slave")
    _, key = pair_create(owner=alice, master=master, slave=slave, volume_mode="multiply")
    terminal = gateway.simulated_driver(master)
    service = Service(key)
    files = tmp_path / str(master.login) / "MQL5" / "Files"

    def start(**options) -> EAMaster:
        return EAMaster(files, terminal, post=service.post, **options)

    ea = start()
    ea.round()  # first run: the cursor starts here
    return terminal, slave, service, start, ea


def buy(terminal, volume: float = 0.10) -> int:
    result = terminal.order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="XAUUSD", type=OrderType.BUY, volume=volume, type_filling=Filling.FOK
        )
    )
    assert result.retcode == 10009
    return terminal.positions()[-1].ticket


def close(terminal, ticket: int, volume: float) -> None:
    result = terminal.order_send(
        OrderRequest(action=TradeAction.DEAL, symbol="XAUUSD", type=OrderType.SELL, volume=volume, position=ticket,
                     type_filling=Filling.FOK)
    )  # fmt: skip
    assert result.retcode == 10009


def test_open_partial_close_modify_and_close_are_each_copied_once(setup):
    terminal, slave, service, _, ea = setup

    ticket = buy(terminal, 0.10)
    ea.round()
    drain_all()
    [copied] = positions(slave)
    close(terminal, ticket, 0.04)
    ea.round()
    drain_all()
    [after_partial] = positions(slave)
    sl = round(terminal.positions()[0].price_current - 20, 2)
    assert (
        terminal.order_send(OrderRequest(action=TradeAction.SLTP, symbol="XAUUSD", sl=sl, position=ticket)).retcode
        == 10009
    )
    ea.round()
    drain_all()
    [after_modify] = positions(slave)
    close(terminal, ticket, 0.06)
    ea.round()
    drain_all()

    assert (copied.volume, after_partial.volume, after_modify.sl) == (0.10, 0.06, sl)
    assert positions(slave) == []
    assert service.delivered == [("deal_add", 200), ("deal_close", 200), ("position_modify", 200), ("deal_close", 200)]
    assert ea.queue == [] and ea.path.read_text().count("\n") == 1  # the cursor line alone


def test_an_outage_and_lost_answers_lose_nothing_and_copy_nothing_twice(setup):
    terminal, slave, service, start, ea = setup

    service.mode = "down"
    ticket = buy(terminal, 0.10)
    ea.round()
    close(terminal, ticket, 0.10)
    ea.round()
    waiting_while_down = list(ea.queue)
    service.mode = "answer lost"  # the service stores the open, the EA never hears so
    ea.round()
    service.mode = "up"
    restarted = start()  # the terminal restarted: the EA takes up its queue file
    restarted.round()
    drain_all()

    assert [json.loads(body)["event"] for body in waiting_while_down] == ["deal_add", "deal_close"]
    # The open was sent twice (its answer was lost once) and stored once; the close came after it.
    assert service.delivered == [("deal_add", 200), ("deal_add", 200), ("deal_close", 200)]
    assert CopyEvent.objects.filter(master__login=terminal.account_info().login).count() == 2
    assert Order.objects.filter(account=slave).count() == 2  # one open, one close
    assert positions(slave) == [] and restarted.queue == []


def test_the_queue_is_bounded_and_counts_what_it_had_to_drop(setup):
    terminal, _, service, start, _ = setup
    service.mode = "down"
    ea = start(queue_limit=2)

    for _ in range(3):
        buy(terminal, 0.01)
    ea.round()

    assert len(ea.queue) == 2 and ea.dropped == 1
    assert json.loads(ea.path.read_text().splitlines()[0]) == {"last_deal": ea.last_deal, "dropped": 1}
    assert start().dropped == 1  # survives a restart


def test_a_close_the_service_refuses_is_dropped_and_the_next_event_goes_on(setup):
    terminal, slave, service, _, ea = setup
    service.mode = "down"
    first = buy(terminal, 0.10)
    ea.round()
    ea.queue.pop(0)  # the open never reaches the service (lost with an old queue file, say)
    ea.save()
    close(terminal, first, 0.10)
    buy(terminal, 0.02)
    service.mode = "up"

    ea.round()
    drain_all()

    # 422: a close of an order the service never saw opened; it is recorded, not retried.
    assert service.delivered == [("deal_close", 422), ("deal_add", 200)]
    assert [p.volume for p in positions(slave)] == [0.02] and ea.queue == []
