"""The paper broker's history as MT5 keeps it: every deal with its reason (our orders EXPERT,
the server's own SL, TP and stop-out closes, hand trades CLIENT or MOBILE), its commission, and
the balance operations that move money without trading."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from terminals.drivers.base import DealEntry, DealReason, DealType, Filling, OrderRequest, OrderType, TradeAction
from terminals.models import SimAccount, SimPosition
from terminals.paper.cashier import PaperRefused, balance_operation
from terminals.paper.driver import SimulatedDriver
from terminals.paper.hand import hand_trade
from tests.terminals.clocks import WEDNESDAY_NOON, Clock

SERVER, LOGIN = "SimBroker-Demo", 7001
EVER = {"since": datetime(2000, 1, 1, tzinfo=UTC), "until": datetime(2100, 1, 1, tzinfo=UTC)}


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_NOON)


@pytest.fixture
def terminal(db, clock) -> SimulatedDriver:
    driver = SimulatedDriver(clock=clock)
    driver.connect(login=LOGIN, password="paper-pass", server=SERVER)
    return driver


def market(side: int, volume: float, **fields) -> OrderRequest:
    return OrderRequest(
        action=TradeAction.DEAL, symbol="BTCUSD", type=side, volume=volume, type_filling=Filling.FOK, **fields
    )


def netting(terminal: SimulatedDriver) -> None:
    SimAccount.objects.filter(pk=terminal.account_id).update(hedging=False)


def balance(terminal: SimulatedDriver) -> Decimal:
    return SimAccount.objects.get(pk=terminal.account_id).balance


def test_our_orders_open_and_close_with_reason_expert_and_no_commission_by_default(terminal):
    opened = terminal.order_send(market(OrderType.BUY, 0.05, comment="cid-1", magic=7))
    terminal.order_send(market(OrderType.SELL, 0.05, position=opened.order))

    deals = terminal.deals(**EVER)
    assert [(d.entry, d.reason, d.commission, d.swap, d.fee) for d in deals] == [
        (DealEntry.IN, DealReason.EXPERT, 0.0, 0.0, 0.0),
        (DealEntry.OUT, DealReason.EXPERT, 0.0, 0.0, 0.0),
    ]
    assert (deals[0].ticket, deals[0].comment, deals[0].magic) == (opened.deal, "cid-1", 7)
    assert balance(terminal) == Decimal("10000") + Decimal(str(deals[1].profit))


def test_a_server_commission_is_charged_on_every_deal_negative_and_taken_from_the_balance(terminal, settings):
    settings.PAPER_SERVER_TERMS = {SERVER: {"commission_per_lot": "7.00"}}
    opened = terminal.order_send(market(OrderType.BUY, 0.5))
    terminal.order_send(market(OrderType.SELL, 0.2, position=opened.order))

    deals = terminal.deals(**EVER)
    assert [d.commission for d in deals] == [-3.5, -1.4]
    assert balance(terminal) == Decimal("10000") - Decimal("4.90") + Decimal(str(deals[1].profit))


def test_stop_loss_and_take_profit_closes_carry_their_reason_and_mt5s_comment(clock, terminal):
    bid = terminal.tick("BTCUSD").bid
    low = terminal.order_send(market(OrderType.BUY, 0.01, sl=round(bid - 20, 2)))
    high = terminal.order_send(market(OrderType.SELL, 0.01, tp=round(bid - 20, 2)))
    assert (low.retcode, high.retcode) == (10009, 10009)
    while terminal.positions():
        clock.at += 5_000

    closes = {d.position_id: d for d in terminal.deals(**EVER) if d.entry == DealEntry.OUT}
    assert (closes[low.order].reason, closes[low.order].comment) == (DealReason.SL, f"[sl {bid - 20:.2f}]")
    assert (closes[high.order].reason, closes[high.order].comment) == (DealReason.TP, f"[tp {bid - 20:.2f}]")
    assert closes[low.order].price == round(bid - 20, 2) and closes[low.order].profit < 0


def test_a_partial_close_is_an_out_deal_of_that_part(terminal):
    opened = terminal.order_send(market(OrderType.BUY, 0.05))

    terminal.order_send(market(OrderType.SELL, 0.02, position=opened.order))

    out = terminal.deals(**EVER)[-1]
    assert (out.entry, out.volume, out.position_id, out.reason) == (DealEntry.OUT, 0.02, opened.order, 3)
    assert [(p.ticket, p.volume) for p in terminal.positions()] == [(opened.order, 0.03)]


def test_a_netting_reversal_is_one_inout_deal_and_the_rest_opens_the_other_way(terminal):
    netting(terminal)
    opened = terminal.order_send(market(OrderType.BUY, 0.05))

    reversed_ = terminal.order_send(market(OrderType.SELL, 0.08))

    deal = terminal.deals(**EVER)[-1]
    assert (deal.entry, deal.type, deal.volume, deal.position_id) == (DealEntry.INOUT, 1, 0.08, opened.order)
    assert (deal.reason, deal.order, deal.profit != 0) == (DealReason.EXPERT, reversed_.order, True)
    assert [(p.type, p.volume) for p in terminal.positions()] == [(OrderType.SELL, 0.03)]


def test_a_pending_order_we_placed_fills_with_reason_expert_when_the_price_reaches_it(clock, terminal):
    ask = terminal.tick("BTCUSD").ask
    placed = terminal.order_send(
        OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=ask - 5)
    )
    while terminal.orders():
        clock.at += 5_000

    [deal] = terminal.deals(**EVER)
    assert (deal.order, deal.entry, deal.reason, deal.position_id) == (placed.order, 0, DealReason.EXPERT, placed.order)


def test_hand_trades_carry_the_terminal_they_came_from(clock, terminal):
    ours = terminal.order_send(market(OrderType.BUY, 0.02))

    phone = hand_trade(server=SERVER, login=LOGIN, request=market(OrderType.SELL, 0.01), reason=DealReason.MOBILE)
    desktop = hand_trade(
        server=SERVER, login=LOGIN, request=market(OrderType.SELL, 0.02, position=ours.order), clock=clock
    )

    assert (phone.retcode, desktop.retcode) == (10009, 10009)
    deals = terminal.deals(**EVER)
    assert [(d.entry, d.reason) for d in deals] == [
        (DealEntry.IN, DealReason.EXPERT), (DealEntry.IN, DealReason.MOBILE), (DealEntry.OUT, DealReason.CLIENT),
    ]  # fmt: skip
    assert [p.ticket for p in terminal.positions()] == [phone.order]


def test_a_hand_trade_is_refused_as_a_program_and_answered_with_the_servers_retcode(terminal):
    with pytest.raises(PaperRefused):
        hand_trade(server=SERVER, login=LOGIN, request=market(OrderType.BUY, 0.01), reason=DealReason.EXPERT)
    with pytest.raises(PaperRefused):
        hand_trade(server=SERVER, login=999, request=market(OrderType.BUY, 0.01))

    assert hand_trade(server=SERVER, login=LOGIN, request=market(OrderType.BUY, 0.013)).retcode == 10014
    assert terminal.deals(**EVER) == []


def test_deposit_and_withdrawal_are_balance_deals_that_move_the_balance(clock, terminal):
    balance_operation(server=SERVER, login=LOGIN, amount=Decimal("250.00"), clock=clock)
    balance_operation(server=SERVER, login=LOGIN, amount=Decimal("-100.50"), comment="To the bank", clock=clock)

    deals = terminal.deals(**EVER)
    assert [(d.type, d.entry, d.symbol, d.volume, d.profit, d.comment, d.order) for d in deals] == [
        (DealType.BALANCE, DealEntry.IN, "", 0.0, 250.0, "Deposit", 0),
        (DealType.BALANCE, DealEntry.IN, "", 0.0, -100.5, "To the bank", 0),
    ]
    assert balance(terminal) == Decimal("10149.50") and terminal.account_info().balance == 10149.5


@pytest.mark.parametrize("amount", ["0", "0.001", "-10000.01", "NaN"])
def test_a_withdrawal_beyond_the_free_margin_or_a_bad_amount_is_refused_and_changes_nothing(terminal, amount):
    with pytest.raises(PaperRefused):
        balance_operation(server=SERVER, login=LOGIN, amount=Decimal(amount))

    assert terminal.deals(**EVER) == [] and balance(terminal) == Decimal("10000")


def _margin_level_at(terminal: SimulatedDriver, level: Decimal) -> None:
    """Set the balance so that the account's margin level is `level` % now."""
    info = terminal.account_info()
    equity = Decimal(str(info.margin)) * level / 100
    SimAccount.objects.filter(pk=terminal.account_id).update(
        balance=(equity - Decimal(str(info.profit))).quantize(Decimal("0.01"))
    )


def test_stop_out_closes_the_most_losing_position_until_the_margin_level_recovers(clock, terminal):
    losing = terminal.order_send(market(OrderType.BUY, 1.0))
    hedge = terminal.order_send(market(OrderType.SELL, 0.1))
    _margin_level_at(terminal, Decimal("51"))
    start = terminal.tick("BTCUSD").bid
    while terminal.positions(ticket=losing.order) and clock.at < WEDNESDAY_NOON + 86_400_000:
        clock.at += 5_000

    assert terminal.tick("BTCUSD").bid < start  # the buy lost: its loss brought the level below 50 %
    stop = terminal.deals(**EVER)[-1]
    assert (stop.position_id, stop.entry, stop.reason, stop.volume) == (losing.order, DealEntry.OUT, DealReason.SO, 1.0)
    level = float(stop.comment.removeprefix("[so ").removesuffix("%]"))
    assert stop.comment.startswith("[so ") and 0 < level < 50
    assert [p.ticket for p in terminal.positions()] == [hedge.order]  # above the level again: kept


def test_stop_out_is_the_servers_and_needs_no_order_of_ours(clock, terminal, settings):
    settings.PAPER_SERVER_TERMS = {SERVER: {"stop_out_level": "100"}}
    terminal.order_send(market(OrderType.BUY, 1.0))
    _margin_level_at(terminal, Decimal("99"))

    # Only reads: the stop-out happens when the paper broker next settles the account.
    assert terminal.positions() == []
    assert terminal.deals(**EVER)[-1].reason == DealReason.SO
    assert not SimPosition.objects.exists()


def test_management_commands_deposit_and_trade_by_hand(terminal, capsys):
    call_command("paper_balance", "deposit", "500", server=SERVER, login=LOGIN)
    call_command("paper_trade", "buy", server=SERVER, login=LOGIN, symbol="BTCUSD", volume=0.02, via="mobile")
    ticket = terminal.positions()[0].ticket
    call_command("paper_trade", "close", server=SERVER, login=LOGIN, ticket=ticket, volume=0.01)

    deals = terminal.deals(**EVER)
    assert [(d.type, d.entry, d.reason) for d in deals] == [
        (DealType.BALANCE, DealEntry.IN, DealReason.CLIENT),
        (DealType.BUY, DealEntry.IN, DealReason.MOBILE),
        (DealType.SELL, DealEntry.OUT, DealReason.CLIENT),
    ]
    assert "balance 10500" in capsys.readouterr().out
    with pytest.raises(CommandError, match="free margin"):
        call_command("paper_balance", "withdraw", "99999", server=SERVER, login=LOGIN)
    with pytest.raises(CommandError, match="No open position"):
        call_command("paper_trade", "close", server=SERVER, login=LOGIN, ticket=424242)
    with pytest.raises(CommandError, match="--volume and a --symbol"):
        call_command("paper_trade", "buy", server=SERVER, login=LOGIN, symbol="NOPE", volume=1)


def test_a_pending_order_placed_by_hand_fills_with_the_hand_reason(clock, terminal):
    ask = terminal.tick("BTCUSD").ask
    placed = hand_trade(
        server=SERVER, login=LOGIN, reason=DealReason.WEB, clock=clock,
        request=OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01,
                             price=ask - 5),
    )  # fmt: skip
    while terminal.orders():
        clock.at += 5_000

    [deal] = terminal.deals(**EVER)
    assert (deal.order, deal.reason) == (placed.order, DealReason.WEB)
