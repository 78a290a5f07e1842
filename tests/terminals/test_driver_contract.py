"""One contract, three drivers: the simulated terminal, the MetaTrader5 library (against the
fake module) and the EA file bridge (against the simulated EA) answer alike."""

import dataclasses
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from terminals.drivers.base import (
    Deal,
    DealEntry,
    DealReason,
    DealType,
    Filling,
    OrderRequest,
    OrderType,
    TerminalError,
    TradeAction,
)
from terminals.paper.cashier import balance_operation
from terminals.paper.driver import SimulatedDriver
from terminals.paper.hand import hand_trade
from terminals.paper.market import SERVERS, quote
from tests.terminals.clocks import Clock

LOGIN, PASSWORD, SERVER = 7001, "paper-pass", "SimBroker-Demo"
ALL_TIME = {"since": datetime(2026, 1, 1, tzinfo=UTC), "until": datetime(2027, 1, 1, tzinfo=UTC)}


# The EA bridge logs its portable terminal in: a stand-in terminal64.exe, a POSIX script.
EA_BRIDGE = pytest.param("ea_bridge", marks=pytest.mark.skipif(os.name == "nt", reason="POSIX stand-in terminal"))


@pytest.fixture(params=["simulated", "mt5", EA_BRIDGE])
def terminal(request, db, tmp_path):
    clock = Clock()
    ea = None
    if request.param == "simulated":
        driver = SimulatedDriver(clock=clock)
        driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    elif request.param == "mt5":
        from tests.fakes.mt5_env import mt5_driver

        driver = mt5_driver(login=LOGIN, password=PASSWORD, server=SERVER, clock=clock)
    else:
        from tests.fakes.ea_simulator import ea_bridge_driver

        driver, ea = ea_bridge_driver(
            tmp_path, login=LOGIN, password=PASSWORD, server=SERVER, clock=clock, instance=True
        )
        driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    driver.kind, driver.broker_clock = request.param, clock
    yield driver
    driver.shutdown()
    if ea is not None:
        ea.close()


def buy(volume: float = 0.01, **fields) -> OrderRequest:
    fields = {"type_filling": Filling.FOK, "type": OrderType.BUY, **fields}
    return OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=volume, **fields)


def test_account_info_after_connect(terminal):
    info = terminal.account_info()

    assert (info.login, info.server, info.currency, info.balance) == (LOGIN, SERVER, "USD", 10000.0)
    assert info.margin_free == info.equity


def test_symbols_specs_and_quotes(terminal):
    gold = terminal.symbol_info("GOLD")
    tick = terminal.tick("GOLD")

    assert "GOLD" in terminal.symbols() and "US30.cash" in terminal.symbols()
    assert (gold.digits, gold.volume_min, gold.volume_step, gold.trade_contract_size) == (2, 0.01, 0.01, 100)
    assert terminal.symbol_info("NOPE") is None
    assert 0 < tick.bid < tick.ask


def test_market_order_opens_a_position_carrying_comment_and_magic(terminal):
    result = terminal.order_send(buy(0.02, comment="cid-contract", magic=4242))

    positions = terminal.positions()
    assert result.retcode == 10009 and result.volume == 0.02 and result.price > 0
    assert [(p.symbol, p.type, p.volume, p.comment, p.magic) for p in positions] == [
        ("BTCUSD", 0, 0.02, "cid-contract", 4242)
    ]
    assert terminal.positions(symbol="GOLD") == []
    assert [d.entry for d in terminal.deals(**ALL_TIME)] == [0]


def test_closing_names_the_position_and_realises_profit(terminal):
    terminal.order_send(buy(0.02))
    position = terminal.positions()[0]

    closed = terminal.order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.SELL, volume=0.02,
            type_filling=Filling.FOK, position=position.ticket,
        )
    )  # fmt: skip

    assert closed.retcode == 10009
    assert terminal.positions() == []
    assert terminal.account_info().balance != 10000.0
    assert [d.entry for d in terminal.deals(**ALL_TIME)] == [0, 1]


@pytest.mark.parametrize(
    ("request_", "retcode"),
    [
        (buy(0.013), 10014),
        (OrderRequest(action=TradeAction.DEAL, symbol="GOLD", type=OrderType.BUY, volume=0.01,
                      type_filling=Filling.FOK), 10030),
        (buy(0.01, sl=999999.0), 10016),
        (buy(0.01, position=424242), 10036),
    ],
)  # fmt: skip
def test_refusals_carry_mt5_retcodes_and_change_nothing(terminal, request_, retcode):
    result = terminal.order_send(request_)

    assert result.retcode == retcode
    assert terminal.positions() == [] and terminal.account_info().balance == 10000.0


def test_pending_order_is_listed_and_removed(terminal):
    ask = terminal.tick("BTCUSD").ask
    placed = terminal.order_send(
        OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01,
                     price=round(ask - 1000, 2), comment="pending-1")
    )  # fmt: skip

    listed = terminal.orders()
    removed = terminal.order_send(OrderRequest(action=TradeAction.REMOVE, symbol="BTCUSD", order=placed.order))

    assert placed.retcode == 10009 and [(o.ticket, o.comment) for o in listed] == [(placed.order, "pending-1")]
    assert removed.retcode == 10009 and terminal.orders() == []


def test_stop_loss_and_take_profit_change(terminal):
    terminal.order_send(buy(0.01))
    position = terminal.positions()[0]
    sl = round(position.price_open - 2000, 2)

    changed = terminal.order_send(
        OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", position=position.ticket, sl=sl)
    )

    assert changed.retcode == 10009 and terminal.positions()[0].sl == sl


def test_order_check_passes_without_trading(terminal):
    assert terminal.order_check(buy(0.01)).retcode == 0
    assert terminal.order_check(buy(0.013)).retcode == 10014
    assert terminal.positions() == []


def test_wrong_credentials_are_refused_with_auth_failed(terminal, tmp_path):
    with pytest.raises(TerminalError) as refused:
        terminal.connect(login=LOGIN, password="wrong", server=SERVER)

    assert refused.value.code == -6 and "Authorization failed" in refused.value.message


def test_symbol_infos_are_the_specs_of_the_named_or_all_symbols(terminal):
    every = terminal.symbol_infos()
    named = terminal.symbol_infos(["GOLD", "NOPE", "BTCUSD"])

    assert [info.name for info in every] == terminal.symbols()
    assert named == [terminal.symbol_info("GOLD"), terminal.symbol_info("BTCUSD")]


def test_every_deal_carries_mt5s_fields_with_reason_and_costs(terminal, settings):
    settings.PAPER_SERVER_TERMS = {SERVER: {"commission_per_lot": "4.00"}}
    opened = terminal.order_send(buy(0.5, comment="cid-costs", magic=11))
    terminal.order_send(buy(0.2, type=OrderType.SELL, position=opened.order))

    deals = terminal.deals(**ALL_TIME)

    assert all(isinstance(d, Deal) for d in deals)
    assert [(d.type, d.entry, d.volume, d.reason, d.commission, d.swap, d.fee) for d in deals] == [
        (DealType.BUY, DealEntry.IN, 0.5, DealReason.EXPERT, -2.0, 0.0, 0.0),
        (DealType.SELL, DealEntry.OUT, 0.2, DealReason.EXPERT, -0.8, 0.0, 0.0),
    ]
    assert (deals[0].comment, deals[0].magic, deals[0].position_id, deals[1].position_id) == (
        "cid-costs", 11, opened.order, opened.order,
    )  # fmt: skip
    assert terminal.account_info().balance == pytest.approx(10000 - 2.8 + deals[1].profit)
    assert {type(getattr(deals[0], f.name)) for f in dataclasses.fields(Deal)} <= {int, float, str}


def test_money_movements_are_deals_of_their_own(terminal):
    balance_operation(server=SERVER, login=LOGIN, amount=Decimal("1234.56"), clock=terminal.broker_clock)
    balance_operation(server=SERVER, login=LOGIN, amount=Decimal("-34.56"), clock=terminal.broker_clock)

    deals = terminal.deals(**ALL_TIME)

    assert [(d.type, d.entry, d.symbol, d.volume, d.profit, d.order, d.position_id) for d in deals] == [
        (DealType.BALANCE, DealEntry.IN, "", 0.0, 1234.56, 0, 0),
        (DealType.BALANCE, DealEntry.IN, "", 0.0, -34.56, 0, 0),
    ]
    assert terminal.account_info().balance == 11200.0


def test_the_servers_own_closes_and_hand_trades_carry_their_reasons(terminal):
    clock = terminal.broker_clock
    bid = terminal.tick("BTCUSD").bid
    stopped = terminal.order_send(buy(0.01, sl=round(bid - 20, 2)))
    clock.at = next(at for at in range(clock.at, clock.at + 86_400_000, 5_000) if _bid(at) < bid - 20)
    by_phone = hand_trade(server=SERVER, login=LOGIN, request=buy(0.01), reason=DealReason.MOBILE, clock=clock)

    deals = terminal.deals(**ALL_TIME)

    # A position's id is the ticket of the order that opened it (not its deal's: those count apart).
    assert [(d.entry, d.reason, d.position_id) for d in deals][1:] == [
        (DealEntry.OUT, DealReason.SL, stopped.order), (DealEntry.IN, DealReason.MOBILE, by_phone.order),
    ]  # fmt: skip
    assert deals[1].comment == f"[sl {bid - 20:.2f}]"


def _bid(at: int) -> float:
    return quote(SERVERS[SERVER]["BTCUSD"], at)[0]
