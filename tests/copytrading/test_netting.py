"""A netting master: additions to its one position per symbol, and reversals (a flip),
copied to netting and hedging slaves on the simulated terminal."""

import time
from decimal import Decimal

import pytest

from copytrading.models import CopyEvent, CopyExecution, CopyLink
from copytrading.services import pair_create
from copytrading.watcher import master_watch
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import Deal, DealEntry, OrderType, Position
from terminals.models import SimAccount, TradingAccount
from terminals.services import simulated_host
from tests.copytrading.conftest import drain_all, positions
from tests.copytrading.test_watcher import by_hand


@pytest.fixture(autouse=True)
def open_market():
    """Real time: the watcher reads deals by their time, and BTCUSD trades around the clock."""


def netting(account: TradingAccount) -> TradingAccount:
    """The account's simulated terminal nets: one position per symbol."""
    SimAccount.objects.filter(server=account.server, login=int(account.login)).update(hedging=False)
    TradingAccount.objects.filter(pk=account.pk).update(hedging=False)
    account.refresh_from_db()
    return account


def lots(account) -> list[tuple[int, float]]:
    return [(p.type, p.volume) for p in positions(account)]


BUY, SELL = OrderType.BUY, OrderType.SELL


@pytest.mark.django_db
def test_an_addition_on_a_netting_master_grows_each_slave_and_closes_reach_every_linked_position(paper):
    master, nets, hedges = netting(paper("M")), netting(paper("N")), paper("H")
    pair_create(owner=master.owner, master=master, slave=nets)
    pair_create(owner=master.owner, master=master, slave=hedges)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()

    ticket = by_hand(master, volume=0.02, type=BUY)
    agent.tick()
    drain_all()
    by_hand(master, volume=0.02, type=BUY)  # netting: joins the open position
    agent.tick()
    drain_all()
    grown = lots(master), lots(nets), lots(hedges)
    link, [netted] = CopyLink.objects.get(slave=nets), positions(nets)
    by_hand(master, volume=0.02, type=SELL, position=ticket)
    agent.tick()
    drain_all()
    halved = lots(nets), lots(hedges)
    by_hand(master, volume=0.02, type=SELL, position=ticket)
    agent.tick()
    drain_all()

    assert grown == ([(BUY, 0.04)], [(BUY, 0.04)], [(BUY, 0.02), (BUY, 0.02)])
    # The netting slave's one position, linked once; the hedging slave's second position has its own link.
    assert (link.slave_ticket, link.volume) == (netted.ticket, Decimal("0.04"))
    assert CopyLink.objects.filter(slave=hedges, master_order_id=str(ticket)).count() == 2
    assert halved == ([(BUY, 0.02)], [(BUY, 0.01), (BUY, 0.01)])
    assert lots(master) == lots(nets) == lots(hedges) == []
    assert not CopyLink.objects.filter(closed_at__isnull=True).exists()
    adds = CopyEvent.objects.filter(kind="deal_add").values_list("order_id", "volume")
    assert list(adds) == [(str(ticket), Decimal("0.02")), (str(ticket), Decimal("0.02"))]


@pytest.mark.django_db
def test_a_netting_flip_closes_the_slave_positions_and_opens_the_rest_the_other_way(paper):
    master, nets, hedges = netting(paper("M")), netting(paper("N")), paper("H")
    pair_create(owner=master.owner, master=master, slave=nets)
    pair_create(owner=master.owner, master=master, slave=hedges)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()
    long = by_hand(master, volume=0.01, type=BUY)
    agent.tick()
    drain_all()

    short = by_hand(master, volume=0.03, type=SELL)  # long 0.01 → short 0.02 in one deal
    agent.tick()
    drain_all()
    flipped = lots(master), lots(nets), lots(hedges)
    by_hand(master, volume=0.02, type=BUY, position=short)
    agent.tick()
    drain_all()

    assert flipped == ([(SELL, 0.02)], [(SELL, 0.02)], [(SELL, 0.02)])
    events = list(CopyEvent.objects.order_by("pk").values_list("kind", "order_id", "volume"))
    assert events == [
        ("deal_add", str(long), Decimal("0.01")),
        ("deal_close", str(long), None),
        ("deal_add", str(short), Decimal("0.02")),
        ("deal_close", str(short), Decimal("0.02")),
    ]
    # The rest is linked to the master's new position: its close closed the slaves' short positions.
    assert CopyLink.objects.filter(master_order_id=str(short)).count() == 2
    assert lots(nets) == lots(hedges) == []


@pytest.mark.django_db
def test_additions_reported_by_the_ea_reach_modifies_and_cascades(paper, trade):
    master, nets, hedges, grandchild = paper("M"), netting(paper("N")), paper("H"), paper("G")
    _, key = pair_create(owner=master.owner, master=master, slave=nets)
    pair_create(owner=master.owner, master=master, slave=hedges, multiplier=Decimal("2"))
    pair_create(owner=master.owner, master=nets, slave=grandchild)

    trade(key, master, event="deal_add", order_id="N1", symbol="BTCUSD", type="BUY", volume=0.02, deal=1)
    drain_all()
    added = trade(key, master, event="deal_add", order_id="N1", symbol="BTCUSD", type="BUY", volume=0.01, deal=2)
    again = trade(key, master, event="deal_add", order_id="N1", symbol="BTCUSD", type="BUY", volume=0.01, deal=2)
    drain_all()
    grown = lots(nets), lots(hedges), lots(grandchild)
    price = positions(master)[0].price_open if positions(master) else 65000.0
    trade(key, master, event="position_modify", order_id="N1", sl=round(price - 5000, 2), tp=round(price + 5000, 2))
    drain_all()
    stops = {(p.sl, p.tp) for account in (nets, hedges, grandchild) for p in positions(account)}
    trade(key, master, event="deal_close", order_id="N1")
    drain_all()

    assert added.json()["pairs_processed"] == 2 and again.json()["event"] == added.json()["event"]
    assert grown == ([(BUY, 0.03)], [(BUY, 0.04), (BUY, 0.02)], [(BUY, 0.02), (BUY, 0.01)])
    assert stops == {(round(price - 5000, 2), round(price + 5000, 2))}
    assert lots(nets) == lots(hedges) == lots(grandchild) == []


@pytest.mark.django_db
def test_an_addition_to_an_order_a_slave_never_copied_is_skipped_there(paper, trade):
    master, slave = paper("M"), netting(paper("S"))
    made, key = pair_create(owner=master.owner, master=master, slave=slave, active=False)
    trade(key, master, event="deal_add", order_id="N2", symbol="BTCUSD", type="BUY", volume=0.02, deal=1)
    made.active = True
    made.save()

    reply = trade(key, master, event="deal_add", order_id="N2", symbol="BTCUSD", type="BUY", volume=0.01, deal=2)
    drain_all()

    assert (reply.json()["status"], reply.json()["pairs_processed"]) == ("skipped", 0)
    execution = CopyExecution.objects.get(event_id=reply.json()["event"])
    assert execution.status == "skipped" and "Nothing of order N2 is open" in execution.error
    assert positions(slave) == []


class NettingTerminal:
    """A real MT5 netting master as the watcher reads it, trade by trade: a reversal keeps the
    position's identifier (every later deal names it) and gives the position the reversing
    order's ticket (MQL5 reference, POSITION_IDENTIFIER). The paper terminal gives the new
    leg a new identifier instead."""

    def __init__(self) -> None:
        self.dealt: list[Deal] = []
        self.open: Position | None = None

    def trade(self, ticket: int, entry: int, side: int, volume: float, position: Position | None) -> None:
        self.dealt.append(Deal(ticket=ticket, order=ticket + 100, position_id=101, symbol="BTCUSD", type=side,
                               entry=entry, volume=volume, price=60000.0, profit=0.0, magic=0, comment="",
                               time_msc=int(time.time() * 1000)))  # fmt: skip
        self.open = position

    def deals(self, *, since, until) -> list[Deal]:
        return list(self.dealt)

    def positions(self, *, symbol=None, ticket=None) -> list[Position]:
        found = [self.open] if self.open is not None else []
        return [p for p in found if ticket is None or p.ticket == ticket]


def _position(ticket: int, side: int, volume: float) -> Position:
    return Position(ticket=ticket, symbol="BTCUSD", type=side, volume=volume, price_open=60000.0,
                    price_current=60000.0, sl=0.0, tp=0.0, profit=0.0, magic=0, comment="", time_msc=0,
                    identifier=101)  # fmt: skip


@pytest.mark.django_db
def test_a_reversal_on_a_real_netting_terminal_keeps_reaching_the_new_leg(paper):
    master, nets, hedges = netting(paper("M")), netting(paper("N")), paper("H")
    pair_create(owner=master.owner, master=master, slave=nets)
    pair_create(owner=master.owner, master=master, slave=hedges)
    terminal = NettingTerminal()

    def watch() -> None:
        master_watch(None, account=master, driver=terminal, this_round={})
        drain_all()

    watch()  # the cursor: watching starts
    terminal.trade(1, DealEntry.IN, BUY, 0.02, _position(101, BUY, 0.02))
    watch()
    terminal.trade(2, DealEntry.INOUT, SELL, 0.05, _position(102, SELL, 0.03))  # long 0.02 → short 0.03
    watch()
    reversed_ = lots(nets), lots(hedges)
    terminal.trade(3, DealEntry.IN, SELL, 0.01, _position(102, SELL, 0.04))  # adds to the short leg
    watch()
    added = lots(nets), lots(hedges)
    terminal.trade(4, DealEntry.OUT, BUY, 0.04, None)
    watch()

    assert reversed_ == ([(SELL, 0.03)], [(SELL, 0.03)])
    assert added == ([(SELL, 0.04)], [(SELL, 0.03), (SELL, 0.01)])
    assert lots(nets) == lots(hedges) == []
    events = list(CopyEvent.objects.order_by("pk").values_list("kind", "order_id", "volume", "status"))
    assert events == [
        ("deal_add", "101", Decimal("0.02"), "processed"),
        ("deal_close", "101", None, "processed"),
        ("deal_add", "102", Decimal("0.03"), "processed"),
        ("deal_add", "102", Decimal("0.01"), "processed"),
        ("deal_close", "102", Decimal("0.04"), "processed"),
    ]


@pytest.mark.django_db
def test_a_reversed_leg_closed_while_a_round_reads_is_closed_on_the_slaves_the_next_round(paper):
    master, slave = netting(paper("M")), paper("H")
    pair_create(owner=master.owner, master=master, slave=slave)
    terminal = NettingTerminal()
    late: list[tuple] = []  # a trade the terminal makes right after a round has read the deals
    deals = terminal.deals

    def deals_then_trade(**window) -> list[Deal]:
        seen = deals(**window)
        while late:
            terminal.trade(*late.pop())
        return seen

    terminal.deals = deals_then_trade

    def watch() -> None:
        master_watch(None, account=master, driver=terminal, this_round={})
        drain_all()

    watch()
    terminal.trade(1, DealEntry.IN, BUY, 0.02, _position(101, BUY, 0.02))
    watch()
    terminal.trade(2, DealEntry.INOUT, SELL, 0.05, _position(102, SELL, 0.03))
    watch()
    late.append((3, DealEntry.OUT, BUY, 0.03, None))
    watch()  # reads the deals before the close, the positions after it
    watch()

    assert lots(slave) == []
    assert CopyEvent.objects.order_by("pk").values_list("kind", "order_id", "status").last() == (
        "deal_close", "102", "processed",
    )  # fmt: skip
