"""The MetaTrader5 driver's deal history through the host agent's rounds (the fake MetaTrader5
module on the paper broker): every deal stored once across a terminal restart and an agent
restart, deals made while nobody read included, money movements kept apart from trades."""

from decimal import Decimal

import pytest

from journal.models import Deal, DealCursor, Trade
from terminals.agent import HostAgent
from terminals.drivers.base import DealReason, OrderRequest, OrderType, TradeAction
from terminals.drivers.mt5 import MetaTrader5Driver
from terminals.models import SimDeal, TradingAccount
from terminals.paper.cashier import balance_operation
from terminals.paper.hand import hand_trade
from terminals.services import simulated_host
from tests.factories import TradingAccountFactory
from tests.fakes.mt5_env import fake_mt5, mt5_driver

LOGIN, PASSWORD, SERVER = 7301, "paper-pass", "SimBroker-Demo"


def connected(account: TradingAccount) -> MetaTrader5Driver:
    driver = MetaTrader5Driver()
    driver.connect(login=int(account.login), password=PASSWORD, server=account.server)
    return driver


def by_hand(side: OrderType, reason: DealReason = DealReason.CLIENT, position: int = 0) -> tuple[int, int]:
    """A trade by hand on the terminal: (its deal's ticket, its order's ticket)."""
    request = OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.01, type=side, position=position)
    result = hand_trade(server=SERVER, login=LOGIN, request=request, reason=reason)
    return result.deal, result.order


@pytest.mark.django_db(transaction=True)  # a round starts by closing old connections
def test_the_cursor_reads_every_deal_once_across_terminal_and_agent_restarts(alice):
    mt5_driver(login=LOGIN, password=PASSWORD, server=SERVER)  # a fresh terminal; opens the paper account
    account = TradingAccountFactory(
        owner=alice, kind=TradingAccount.Kind.MT5, login=str(LOGIN), server=SERVER, host=simulated_host()
    )
    opened, position = by_hand(OrderType.BUY)  # a position's ticket is its opening order's
    HostAgent(host=simulated_host(), open_driver=connected).tick()
    assert list(Deal.objects.filter(account=account).values_list("ticket", flat=True)) == [opened]
    first_cursor = DealCursor.objects.get(account=account)

    # The terminal restarts and the agent with it; meanwhile a close from the phone and a deposit.
    fake_mt5()._reset()
    closed, _ = by_hand(OrderType.SELL, DealReason.MOBILE, position=position)
    deposit = balance_operation(server=SERVER, login=LOGIN, amount=Decimal("250.00")).pk
    restarted = HostAgent(host=simulated_host(), open_driver=connected)
    restarted.tick()
    restarted.tick()  # a round with nothing new stores nothing twice

    paper = SimDeal.objects.filter(account__login=LOGIN).values_list("pk", flat=True)
    assert sorted(Deal.objects.filter(account=account).values_list("ticket", flat=True)) == sorted(paper)
    assert sorted(paper) == sorted([opened, closed, deposit])
    stored = {d.ticket: d for d in Deal.objects.filter(account=account)}
    assert (stored[closed].reason, stored[closed].entry) == (Deal.Reason.MOBILE, Deal.Entry.OUT)
    assert (stored[deposit].kind, stored[deposit].profit, stored[deposit].position) == (
        Deal.Kind.BALANCE, Decimal("250.00"), 0,
    )  # fmt: skip
    [trade] = Trade.objects.filter(account=account)
    assert (trade.status, trade.close_reason, trade.source) == (Trade.Status.CLOSED, Deal.Reason.MOBILE, "outside")
    assert DealCursor.objects.get(account=account).time_msc >= first_cursor.time_msc
