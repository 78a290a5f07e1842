"""One contract, three drivers: the simulated terminal, the MetaTrader5 library (against the
fake module) and the EA file bridge (against the simulated EA) answer alike."""

import os
from datetime import UTC, datetime

import pytest

from terminals.drivers.base import Filling, OrderRequest, OrderType, TerminalError, TradeAction
from terminals.paper.driver import SimulatedDriver
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
    driver.kind = request.param
    yield driver
    driver.shutdown()
    if ea is not None:
        ea.close()


def buy(volume: float = 0.01, **fields) -> OrderRequest:
    fields.setdefault("type_filling", Filling.FOK)
    return OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=volume, **fields)


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
