"""The MetaTrader5 driver against the fake MetaTrader5 module (the paper broker behind it)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from terminals.drivers.base import (
    DealEntry,
    DealReason,
    DealType,
    Filling,
    OrderRequest,
    OrderType,
    TerminalError,
    TradeAction,
)
from terminals.drivers.mt5 import MetaTrader5Driver
from terminals.paper.cashier import balance_operation
from terminals.paper.driver import SimulatedDriver
from terminals.paper.hand import hand_trade
from tests.fakes.mt5_env import fake_mt5, mt5_driver
from tests.terminals.clocks import WEDNESDAY_NOON

INSTANCE = r"C:\mt5\instances\7001\terminal64.exe"
EVER = {"since": datetime(2026, 1, 1, tzinfo=UTC), "until": datetime(2027, 1, 1, tzinfo=UTC)}


def clock() -> int:
    return WEDNESDAY_NOON


@pytest.fixture
def mt5(db):
    module = fake_mt5()
    module._reset(clock=clock)
    return module


@pytest.fixture
def paper(mt5) -> SimulatedDriver:
    """The same paper account, read straight from the engine behind the fake."""
    driver = SimulatedDriver(clock=clock)
    driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")
    return driver


def buy(symbol: str = "BTCUSD", volume: float = 0.01, **fields) -> OrderRequest:
    return OrderRequest(action=TradeAction.DEAL, symbol=symbol, type=OrderType.BUY, volume=volume, **fields)


def test_connect_starts_the_instance_portable_then_logs_in(mt5):
    driver = MetaTrader5Driver(path=INSTANCE)

    info = driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    assert (info.login, info.server, info.balance) == (7001, "SimBroker-Demo", 10000)
    assert (mt5._calls["initialize"], mt5._calls["login"]) == (1, 1)
    terminal = mt5.terminal_info()
    assert terminal.connected and terminal.path == terminal.data_path == r"C:\mt5\instances\7001"


def test_wrong_password_raises_with_mt5_words_and_no_password(mt5, paper):
    with pytest.raises(TerminalError) as refused:
        MetaTrader5Driver(path=INSTANCE).connect(login=7001, password="not-the-pass", server="SimBroker-Demo")

    assert refused.value.code == -6
    assert "Authorization failed" in refused.value.message
    assert "not-the-pass" not in str(refused.value)
    assert mt5.account_info() is None


def test_no_reinitialize_or_relogin_between_orders(mt5):
    first = MetaTrader5Driver(path=INSTANCE)
    first.connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    results = []
    for _ in range(3):
        # What a worker does per order: a driver, connect, send.
        driver = MetaTrader5Driver(path=INSTANCE)
        driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")
        results.append(driver.order_send(buy()).retcode)

    assert results == [10009, 10009, 10009]
    assert (mt5._calls["initialize"], mt5._calls["login"]) == (1, 1)


def test_another_password_on_the_attached_login_is_checked_by_the_terminal(mt5):
    driver = MetaTrader5Driver(path=INSTANCE)
    driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    with pytest.raises(TerminalError) as refused:
        driver.connect(login=7001, password="wrong", server="SimBroker-Demo")
    again = driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    assert refused.value.code == -6
    assert again.login == 7001 and driver.positions() == []
    assert (mt5._calls["initialize"], mt5._calls["login"]) == (1, 3)


def test_another_instance_path_reattaches_and_another_login_logs_in(mt5):
    MetaTrader5Driver(path=INSTANCE).connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    MetaTrader5Driver(path=INSTANCE).connect(login=7002, password="other", server="SimBroker-Demo")
    other = MetaTrader5Driver(path=r"C:\mt5\instances\7003\terminal64.exe")
    info = other.connect(login=7003, password="third", server="SimStandard-Demo")

    assert (mt5._calls["initialize"], mt5._calls["login"]) == (2, 3)
    assert (info.login, mt5.terminal_info().path) == (7003, r"C:\mt5\instances\7003")


def test_reads_convert_to_the_same_dataclasses_the_engine_returns(mt5, paper):
    driver = mt5_driver(clock=clock)
    driver.order_send(buy(sl=60000.0, comment="cid-1", magic=77))
    ask = driver.tick("BTCUSD").ask
    driver.order_send(
        OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.02, price=ask - 50)
    )

    assert driver.positions() == paper.positions() and len(driver.positions()) == 1
    assert driver.positions(symbol="BTCUSD", ticket=paper.positions()[0].ticket) == paper.positions()
    assert driver.positions(symbol="GOLD") == []
    assert driver.orders() == paper.orders() and len(driver.orders()) == 1
    assert driver.deals(**EVER) == paper.deals(**EVER) and len(driver.deals(**EVER)) == 1
    assert driver.account_info() == paper.account_info()
    assert driver.symbol_info("GOLD") == paper.symbol_info("GOLD")
    assert driver.tick("GOLD") == paper.tick("GOLD")
    assert driver.symbols() == paper.symbols()


def test_order_send_returns_the_fill_and_close_names_the_position(mt5):
    driver = mt5_driver(clock=clock)

    opened = driver.order_send(buy(comment="cid-42", type_filling=Filling.FOK))
    position = driver.positions()[0]
    closed = driver.order_send(
        OrderRequest(
            action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.SELL, volume=0.01, position=position.ticket
        )
    )

    assert opened.retcode == 10009 and opened.comment == "Request executed" and opened.request_id == 1
    assert (opened.order, opened.price, opened.volume) == (position.ticket, position.price_open, 0.01)
    assert opened.deal and opened.ask == opened.price
    assert position.comment == "cid-42"
    assert closed.retcode == 10009 and driver.positions() == []
    assert [(d.entry, d.position_id) for d in driver.deals(**EVER)] == [(0, position.ticket), (1, position.ticket)]


def test_refusals_come_back_as_retcodes_not_exceptions(mt5):
    driver = mt5_driver(clock=clock)

    result = driver.order_send(buy(volume=0.013))

    assert result.retcode == 10014 and result.comment == "Invalid volume in the request"
    assert driver.positions() == []


def test_a_long_comment_is_cut_to_what_mt5_keeps(mt5):
    driver = mt5_driver(clock=clock)

    result = driver.order_send(buy(comment="x" * 40))

    assert result.retcode == 10009 and driver.positions()[0].comment == "x" * 31


def test_ipc_timeout_on_send_raises_terminal_error(mt5):
    driver = mt5_driver(clock=clock)
    mt5._fail_next(mt5.RES_E_INTERNAL_FAIL_TIMEOUT, function="order_send")

    with pytest.raises(TerminalError) as failed:
        driver.order_send(buy())

    assert failed.value.code == -10005 and "IPC timeout" in failed.value.message
    assert driver.positions() == []
    assert driver.order_send(buy()).retcode == 10009


def test_an_order_whose_answer_was_lost_is_on_the_terminal(mt5):
    driver = mt5_driver(clock=clock)
    mt5._fail_next(mt5.RES_E_INTERNAL_FAIL_RECEIVE, function="order_send", executed=True)

    with pytest.raises(TerminalError) as failed:
        driver.order_send(buy(comment="cid-7"))

    # Ambiguous: the caller must look before sending again.
    assert failed.value.code == -10002
    assert [p.comment for p in driver.positions()] == ["cid-7"]


@pytest.mark.parametrize("method", ["account_info", "symbols", "positions", "orders"])
def test_ipc_failure_on_reads_raises_instead_of_returning_nothing(mt5, method):
    driver = mt5_driver(clock=clock)
    mt5._fail_next(mt5.RES_E_INTERNAL_FAIL)

    with pytest.raises(TerminalError) as failed:
        getattr(driver, method)()

    assert failed.value.code == -10000


def test_unknown_symbol_is_none_but_a_broken_terminal_raises(mt5):
    driver = mt5_driver(clock=clock)

    assert driver.symbol_info("NOPE") is None and driver.tick("NOPE") is None
    mt5._fail_next(mt5.RES_E_INTERNAL_FAIL_CONNECT, function="symbol_info")
    with pytest.raises(TerminalError) as failed:
        driver.symbol_info("GOLD")
    assert failed.value.code == -10004


def test_order_check_answers_without_trading(mt5):
    driver = mt5_driver(clock=clock)

    ok = driver.order_check(buy())
    bad = driver.order_check(buy(symbol="GOLD", type_filling=Filling.FOK))

    assert (ok.retcode, ok.comment) == (0, "Done")
    assert bad.retcode == 10030 and bad.comment == "Invalid order filling type"
    assert driver.positions() == []


def test_calls_before_connect_raise_no_ipc_connection(mt5):
    driver = MetaTrader5Driver()

    with pytest.raises(TerminalError) as failed:
        driver.positions()

    assert failed.value.code == -10004 and "No IPC connection" in failed.value.message


def test_fake_refuses_what_the_real_module_refuses(mt5):
    mt5_driver(clock=clock)

    int_volume = mt5.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "BTCUSD", "volume": 1, "type": 0})
    assert int_volume is None and mt5.last_error() == (-2, 'Invalid "volume" argument')
    unknown_key = mt5.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01, "lots": 0.01})
    assert unknown_key is None and mt5.last_error() == (-2, "Invalid arguments")
    assert mt5.copy_rates_from("BTCUSD", mt5.TIMEFRAME_M1, 0, 10) is None
    assert mt5.last_error() == (-7, "Terminal: Unsupported function")


def test_history_deals_get_gives_every_field_of_the_real_trade_deal(mt5, paper):
    driver = mt5_driver(clock=clock)
    driver.order_send(buy(comment="cid-7", magic=9))

    [deal] = mt5.history_deals_get(EVER["since"], EVER["until"])

    assert deal._fields == (
        "ticket", "order", "time", "time_msc", "type", "entry", "magic", "position_id", "reason", "volume",
        "price", "commission", "swap", "profit", "fee", "symbol", "comment", "external_id",
    )  # fmt: skip
    assert (deal.reason, deal.magic, deal.comment, deal.time) == (mt5.DEAL_REASON_EXPERT, 9, "cid-7", clock() // 1000)


def test_deals_include_money_movements_and_the_servers_own_closes_with_reasons(mt5, paper, settings):
    settings.PAPER_SERVER_TERMS = {"SimBroker-Demo": {"commission_per_lot": "2.00"}}
    driver = mt5_driver(clock=clock)
    balance_operation(server="SimBroker-Demo", login=7001, amount=Decimal("300"), clock=clock)
    opened = driver.order_send(buy(volume=0.5))
    hand_trade(
        server="SimBroker-Demo", login=7001, clock=clock, reason=DealReason.MOBILE,
        request=OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.SELL, volume=0.5,
                             position=opened.order),
    )  # fmt: skip

    deals = driver.deals(**EVER)

    assert deals == paper.deals(**EVER)
    assert [(d.type, d.entry, d.reason, d.commission) for d in deals] == [
        (DealType.BALANCE, DealEntry.IN, DealReason.CLIENT, 0.0),
        (DealType.BUY, DealEntry.IN, DealReason.EXPERT, -1.0),
        (DealType.SELL, DealEntry.OUT, DealReason.MOBILE, -1.0),
    ]
    assert (deals[0].symbol, deals[0].volume, deals[0].profit) == ("", 0.0, 300.0)
