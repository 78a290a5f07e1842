"""The simulated terminal behaves like MT5: specs, moving prices, retcodes, money."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from terminals.drivers.base import Filling, OrderRequest, OrderType, TerminalError, TradeAction
from terminals.models import SimAccount
from terminals.paper.book import read_together
from terminals.paper.driver import SimulatedDriver
from terminals.paper.market import SERVERS, quote
from tests.terminals.clocks import WEDNESDAY_NOON, Clock

SATURDAY = int(datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_NOON)


@pytest.fixture
def terminal(db, clock) -> SimulatedDriver:
    driver = SimulatedDriver(clock=clock)
    driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")
    return driver


def market(symbol: str, side: int, volume: float, **fields) -> OrderRequest:
    return OrderRequest(action=TradeAction.DEAL, symbol=symbol, type=side, volume=volume, **fields)


def test_connect_opens_a_paper_account_then_checks_the_password(db):
    first = SimulatedDriver().connect(login=42, password="right", server="SimStandard-Demo")

    with pytest.raises(TerminalError) as wrong:
        SimulatedDriver().connect(login=42, password="wrong", server="SimStandard-Demo")
    with pytest.raises(TerminalError) as unknown:
        SimulatedDriver().connect(login=42, password="right", server="Nowhere-Live")

    assert first.balance == 10000 and first.login == 42
    assert wrong.value.code == -6 and "invalid account or password" in wrong.value.message
    assert "unknown trade server" in unknown.value.message
    assert SimAccount.objects.count() == 1


def test_symbols_carry_realistic_specifications(terminal):
    gold = terminal.symbol_info("GOLD")

    assert "US30.cash" in terminal.symbols() and "EURUSD.m" in terminal.symbols()
    assert (gold.digits, gold.trade_contract_size, gold.volume_min, gold.volume_step) == (2, 100, 0.01, 0.01)
    assert terminal.symbol_info("XAUUSD") is None


def test_prices_move_with_time_and_keep_the_spread(clock, terminal):
    first = terminal.tick("EURUSD.m")
    clock.at += 60_000
    later = terminal.tick("EURUSD.m")

    assert first.bid != later.bid
    assert round((first.ask - first.bid) / 0.00001) == SERVERS["SimBroker-Demo"]["EURUSD.m"].spread_points
    assert quote(SERVERS["SimBroker-Demo"]["GOLD"], clock.at) == quote(SERVERS["SimBroker-Demo"]["GOLD"], clock.at)


def test_market_buy_fills_at_ask_and_close_realises_profit(clock, terminal):
    opened = terminal.order_send(market("EURUSD.m", OrderType.BUY, 0.10, type_filling=Filling.FOK, comment="cid-1"))
    position = terminal.positions()[0]
    clock.at += 600_000
    bid = terminal.tick("EURUSD.m").bid
    closed = terminal.order_send(
        market("EURUSD.m", OrderType.SELL, 0.10, type_filling=Filling.FOK, position=position.ticket)
    )

    assert opened.retcode == 10009 and opened.price == position.price_open
    assert position.ticket == opened.order and position.comment == "cid-1"
    assert closed.retcode == 10009 and closed.price == bid
    expected = round((bid - position.price_open) / 0.00001 * 1.0 * 0.10, 2)
    assert terminal.positions() == []
    assert terminal.account_info().balance == pytest.approx(10000 + expected)
    deals = terminal.deals(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2027, 1, 1, tzinfo=UTC))
    assert [(d.entry, d.position_id) for d in deals] == [(0, position.ticket), (1, position.ticket)]


@pytest.mark.parametrize(
    ("request_fields", "retcode"),
    [
        ({"symbol": "GOLD", "volume": 0.015, "type_filling": Filling.IOC}, 10014),
        ({"symbol": "GOLD", "volume": 0.001, "type_filling": Filling.IOC}, 10014),
        ({"symbol": "GOLD", "volume": 25, "type_filling": Filling.IOC}, 10014),
        ({"symbol": "GOLD", "volume": 0.01, "type_filling": Filling.FOK}, 10030),
        ({"symbol": "GOLD", "volume": 0.01, "type_filling": Filling.IOC, "sl": 99999.0}, 10016),
        ({"symbol": "GOLD", "volume": 20, "type_filling": Filling.IOC}, 10019),
        ({"symbol": "NOPE", "volume": 0.01, "type_filling": Filling.IOC}, 10013),
        ({"symbol": "GOLD", "volume": 0.01, "type_filling": Filling.IOC, "position": 999999}, 10036),
    ],
)
def test_bad_requests_get_mt5_retcodes_and_change_nothing(terminal, request_fields, retcode):
    result = terminal.order_send(OrderRequest(action=TradeAction.DEAL, type=OrderType.BUY, **request_fields))

    assert result.retcode == retcode
    assert terminal.positions() == [] and terminal.account_info().balance == 10000


def test_market_closed_at_the_weekend_but_crypto_trades(clock, terminal):
    clock.at = SATURDAY

    gold = terminal.order_send(market("GOLD", OrderType.BUY, 0.01, type_filling=Filling.IOC))
    btc = terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))

    assert gold.retcode == 10018 and btc.retcode == 10009


def test_requote_when_the_price_moved_past_the_deviation(terminal):
    ask = terminal.tick("EURUSD.m").ask

    stale = terminal.order_send(market("EURUSD.m", OrderType.BUY, 0.01, type_filling=Filling.FOK, price=ask - 0.01))
    fresh = terminal.order_send(market("EURUSD.m", OrderType.BUY, 0.01, type_filling=Filling.FOK, price=ask))

    assert stale.retcode == 10004 and stale.ask == ask
    assert fresh.retcode == 10009


def test_injected_retcodes_answer_the_next_sends_in_order(terminal):
    SimAccount.objects.update(inject_retcodes=[10004, 10031])

    codes = [
        terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK)).retcode for _ in "abc"
    ]

    assert codes == [10004, 10031, 10009]
    assert len(terminal.positions()) == 1


def test_hedging_keeps_two_positions_and_netting_nets(db, clock):
    hedging = SimulatedDriver(clock=clock)
    hedging.connect(login=1, password="p", server="SimBroker-Demo")
    netting = SimulatedDriver(clock=clock)
    netting.connect(login=2, password="p", server="SimBroker-Demo")
    SimAccount.objects.filter(login=2).update(hedging=False)

    for terminal in (hedging, netting):
        terminal.order_send(market("BTCUSD", OrderType.BUY, 0.05, type_filling=Filling.FOK))
        terminal.order_send(market("BTCUSD", OrderType.SELL, 0.02, type_filling=Filling.FOK))

    assert sorted(p.volume for p in hedging.positions()) == [0.02, 0.05]
    assert [(p.type, p.volume) for p in netting.positions()] == [(0, 0.03)]
    assert netting.account_info().margin_mode == 0


def test_pending_limit_triggers_when_the_price_reaches_it(clock, terminal):
    ask = terminal.tick("BTCUSD").ask
    bad = terminal.order_send(
        OrderRequest(
            action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=ask + 100
        )
    )
    placed = terminal.order_send(
        OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=ask - 5)
    )

    assert bad.retcode == 10015
    assert placed.retcode == 10009 and [o.ticket for o in terminal.orders()] == [placed.order]
    while terminal.tick("BTCUSD").ask > ask - 5:
        clock.at += 5_000
    assert terminal.orders() == [] and terminal.positions()[0].ticket == placed.order


def test_stop_loss_closes_the_position_when_hit(clock, terminal):
    bid = terminal.tick("BTCUSD").bid
    terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK, sl=round(bid - 20, 2)))

    while terminal.tick("BTCUSD").bid > bid - 20:
        clock.at += 5_000

    assert terminal.positions() == []
    assert terminal.account_info().balance < 10000


def test_sltp_modify_and_no_changes(terminal):
    terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))
    position = terminal.positions()[0]
    sl = round(position.price_current - 500, 2)

    request = OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", position=position.ticket, sl=sl)
    assert terminal.order_send(request).retcode == 10009
    assert terminal.order_send(request).retcode == 10025
    assert terminal.positions()[0].sl == sl


def test_order_check_validates_without_trading(terminal):
    ok = terminal.order_check(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))
    bad = terminal.order_check(market("BTCUSD", OrderType.BUY, 0.013, type_filling=Filling.FOK))

    assert ok.retcode == 0 and bad.retcode == 10014
    assert terminal.positions() == []


def test_state_is_shared_by_separate_driver_instances(terminal, clock):
    terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))
    other = SimulatedDriver(clock=clock)
    other.connect(login=7001, password="paper-pass", server="SimBroker-Demo")

    assert len(other.positions()) == 1


def test_remove_needs_only_the_order_ticket(terminal):
    ask = terminal.tick("BTCUSD").ask
    placed = terminal.order_send(
        OrderRequest(
            action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=ask - 500
        )
    )

    removed = terminal.order_send(OrderRequest(action=TradeAction.REMOVE, symbol="", order=placed.order))

    assert removed.retcode == 10009 and terminal.orders() == []


def test_terminals_read_together_answer_a_log_in_and_its_account_info_without_queries(terminal, clock):
    terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))
    limit = terminal.tick("BTCUSD").ask - 500
    terminal.order_send(
        OrderRequest(action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=limit)
    )
    with read_together([("SimBroker-Demo", 7001), ("SimBroker-Demo", 7002)]):
        with pytest.raises(TerminalError):  # the password is checked all the same
            SimulatedDriver(clock=clock).log_in(login=7001, password="wrong", server="SimBroker-Demo")
        driver = SimulatedDriver(clock=clock)
        with CaptureQueriesContext(connection) as reads:
            driver.log_in(login=7001, password="paper-pass", server="SimBroker-Demo")
            info = driver.account_info()
        assert len(reads) == 0 and info.margin > 0 and info.equity != info.balance
        terminal.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))

        # Anything else is read now: the copy watcher compares positions with deals just read.
        with CaptureQueriesContext(connection) as reads:
            positions, orders, again = driver.positions(), driver.orders(), driver.account_info()
            other = SimulatedDriver(clock=clock)
            other.log_in(login=7001, password="paper-pass", server="SimBroker-Demo")
        assert len(reads) >= 4
        assert (len(positions), len(orders), again.margin > info.margin) == (2, 1, True)

    with read_together([("SimBroker-Demo", 7001)]):
        driver = SimulatedDriver(clock=clock)
        driver.log_in(login=7001, password="paper-pass", server="SimBroker-Demo")
        driver.order_send(market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK))
        assert driver.account_info().margin > again.margin  # its own trade, not the reading before it
        assert SimulatedDriver(clock=clock).connect(login=7002, password="new", server="SimBroker-Demo").login == 7002


def _cases(first_login: int, clock: Clock, at: int, low_ask: float, low_bid: float) -> list:
    """A paper account for each kind of request, in the state it starts from, with that
    request: (driver, request). At `at` the ask has fallen to `low_ask` and the bid to
    `low_bid`: one account's pending limit triggers then and another's stop loss is hit."""
    buy, sell = OrderType.BUY, OrderType.SELL

    def account(n: int, *, hedging: bool = True) -> SimulatedDriver:
        driver = SimulatedDriver(clock=clock)
        driver.connect(login=first_login + n, password="p", server="SimBroker-Demo")
        SimAccount.objects.filter(pk=driver.account_id).update(hedging=hedging)
        return driver

    def buy_limit(price):
        return OrderRequest(
            action=TradeAction.PENDING, symbol="BTCUSD", type=OrderType.BUY_LIMIT, volume=0.01, price=round(price, 2)
        )

    def request(side, volume, **fields):
        return market("BTCUSD", side, volume, type_filling=Filling.FOK, **fields)

    cases = []
    d = account(0)
    cases.append((d, request(buy, 0.01)))
    d = account(1)
    cases.append((d, request(sell, 0.02, position=d.order_send(request(buy, 0.05)).order)))  # part of a position
    d = account(2)
    cases.append((d, request(sell, 0.05, position=d.order_send(request(buy, 0.05)).order)))  # all of it
    d = account(3, hedging=False)
    d.order_send(request(buy, 0.05))
    cases.append((d, request(buy, 0.03)))  # netting: added, at the average price
    d = account(4, hedging=False)
    d.order_send(request(buy, 0.05))
    cases.append((d, request(sell, 0.08)))  # netting: turned the other way
    d = account(5)
    cases.append((d, buy_limit(low_bid - 300)))
    d = account(6)
    ticket = d.order_send(request(buy, 0.01)).order
    cases.append(
        (d, OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", position=ticket, tp=round(low_bid + 900, 2)))
    )
    d = account(7)
    cases.append(
        (d, OrderRequest(action=TradeAction.REMOVE, symbol="", order=d.order_send(buy_limit(low_ask - 400)).order))
    )
    d = account(8)
    cases.append((d, request(buy, 0.001)))  # below the minimum: 10014
    d = account(9)
    SimAccount.objects.filter(pk=d.account_id).update(inject_retcodes=[10004])
    cases.append((d, request(buy, 0.01)))
    d = account(10)
    d.order_send(buy_limit(low_ask + 5))  # reached by `at`: filled before the request
    cases.append((d, request(buy, 0.02)))
    d = account(11)
    d.order_send(request(buy, 0.01, sl=round(low_bid + 5, 2)))  # hit by `at`: closed before the request
    cases.append((d, request(buy, 0.02)))
    return cases


def _state(driver: SimulatedDriver) -> tuple:
    """What a paper account holds, without its tickets (two accounts' tickets differ)."""
    account = SimAccount.objects.get(pk=driver.account_id)
    return (
        account.balance,
        account.inject_retcodes,
        [(p.symbol, p.type, p.volume, p.price_open, p.sl, p.tp, p.comment) for p in account.positions.order_by("pk")],
        [(o.type, o.volume, o.price_open, o.active) for o in account.orders.order_by("pk")],
        [(d.type, d.entry, d.volume, d.price, d.profit) for d in account.deals.order_by("pk")],
    )


def _answer(result) -> tuple:
    return (result.retcode, result.volume, result.price, result.bid, result.ask, result.comment, bool(result.deal))


def test_requests_to_many_terminals_at_once_do_what_each_would_alone_in_a_few_statements(db, clock):
    spec = SERVERS["SimBroker-Demo"]["BTCUSD"]
    start_ask = quote(spec, clock.at)[1]
    at = next(t for t in range(clock.at + 5_000, clock.at + 86_400_000, 5_000) if quote(spec, t)[1] < start_ask - 60)
    low_bid, low_ask = quote(spec, at)
    alone = _cases(5000, clock, at, low_ask, low_bid)
    together = _cases(6000, clock, at, low_ask, low_bid)
    clock.at = at

    one_by_one = [driver.order_send(request) for driver, request in alone]
    with CaptureQueriesContext(connection) as queries:
        at_once = SimulatedDriver.order_send_many(together)

    assert [_answer(r) for r in at_once] == [_answer(r) for r in one_by_one]
    assert [r.retcode for r in at_once] == [10009] * 8 + [10014, 10004, 10009, 10009]
    assert [_state(d) for d, _ in together] == [_state(d) for d, _ in alone]
    filled_first, stopped_first = together[10][0], together[11][0]
    assert [p.volume for p in filled_first.positions()] == [0.01, 0.02]  # the limit, then the request
    deals = stopped_first.deals(since=datetime(2000, 1, 1, tzinfo=UTC), until=datetime.now(UTC))
    assert [d.entry for d in deals] == [0, 1, 0]  # opened, stopped out, then the request
    # The transaction, the lock, two reads, the closer of the stop hit, one write a kind: 13
    # statements for 12 accounts, where one by one each request took 8.
    assert len(queries) <= 13, [q["sql"][:80] for q in queries]


def test_requests_at_once_are_one_per_account(terminal, clock):
    other = SimulatedDriver(clock=clock)
    other.connect(login=7001, password="paper-pass", server="SimBroker-Demo")
    buy = market("BTCUSD", OrderType.BUY, 0.01, type_filling=Filling.FOK)

    with pytest.raises(ValueError, match="one request per account"):
        SimulatedDriver.order_send_many([(terminal, buy), (other, buy)])
    assert terminal.positions() == []
