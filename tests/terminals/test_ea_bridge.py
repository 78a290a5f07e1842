"""The EA file bridge driver against a simulated EA trading on the paper broker."""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from terminals.drivers.base import Filling, OrderRequest, OrderType, TerminalError, TradeAction
from terminals.drivers.ea_bridge import EABridgeDriver
from terminals.paper.driver import SimulatedDriver
from terminals.retcodes import AMBIGUOUS
from tests.fakes.ea_simulator import EASimulator, ea_bridge_driver
from tests.terminals.clocks import WEDNESDAY_NOON, Clock

LOGIN, PASSWORD, SERVER = 7001, "paper-pass", "SimBroker-Demo"


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_NOON)


@pytest.fixture
def bridge(db, tmp_path, clock) -> tuple[EABridgeDriver, EASimulator]:
    driver, ea = ea_bridge_driver(tmp_path, clock=clock, timeout=0.3)
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    return driver, ea


def buy(symbol: str = "GOLD", volume: float = 0.01, **fields) -> OrderRequest:
    fields = {"type": OrderType.BUY, "type_filling": Filling.IOC, **fields}
    return OrderRequest(action=TradeAction.DEAL, symbol=symbol, volume=volume, **fields)


def close(position, **fields) -> OrderRequest:
    return buy(position.symbol, position.volume, type=OrderType.SELL, position=position.ticket, **fields)


def leftovers(driver: EABridgeDriver) -> list[str]:
    return sorted(p.name for p in driver.files_dir.iterdir() if p.name != "status.json")


def test_market_order_round_trip_writes_the_command_atomically_and_cleans_up(bridge, monkeypatch):
    driver, ea = bridge
    renames, real_replace = [], os.replace

    def watching_replace(src, dst):
        src, dst = Path(src), Path(dst)
        if dst.name.startswith("webhook_command_"):
            # The instant the command appears under its final name.
            renames.append((src.name, dst.name, dst.exists(), json.loads(src.read_text(encoding="utf-8"))))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)

    result = driver.order_send(buy(comment="cid-1"), original_symbol="XAUUSD")

    [(temporary, final, existed, written)] = renames
    assert temporary == final + ".tmp" and not existed
    assert written == ea.commands[0]
    assert final == f"webhook_command_{written['command_id']}.json"
    assert {k: written[k] for k in ("action", "order_type", "symbol", "original_symbol", "account", "volume")} == {
        "action": "BUY",
        "order_type": "market",
        "symbol": "GOLD",
        "original_symbol": "XAUUSD",
        "account": LOGIN,
        "volume": 0.01,
    }
    assert isinstance(written["timestamp"], int) and written["comment"] == "cid-1"
    [position] = driver.positions()
    assert result.retcode == 10009 and result.price == position.price_open and result.deal
    assert result.order == position.ticket and position.comment == "cid-1"
    assert leftovers(driver) == []


def test_pending_limit_is_placed_listed_and_cancelled(bridge):
    driver, _ = bridge
    ask = driver.tick("GOLD").ask

    placed = driver.order_send(
        OrderRequest(
            action=TradeAction.PENDING,
            symbol="GOLD",
            type=OrderType.BUY_LIMIT,
            volume=0.02,
            price=round(ask - 10, 2),
            type_filling=Filling.IOC,
        )
    )
    listed = driver.orders(symbol="GOLD")
    cancelled = driver.order_send(OrderRequest(action=TradeAction.REMOVE, symbol="GOLD", order=placed.order))

    assert placed.retcode == 10009 and placed.order
    assert [(o.ticket, o.type, o.price_open) for o in listed] == [
        (placed.order, OrderType.BUY_LIMIT, round(ask - 10, 2))
    ]
    assert cancelled.retcode == 10009 and cancelled.order == placed.order
    assert driver.orders() == [] and driver.positions() == []


def test_close_by_position_ticket_realises_the_profit(bridge, clock):
    driver, _ = bridge
    driver.order_send(buy("BTCUSD", 0.05, type_filling=Filling.FOK))
    driver.order_send(buy("BTCUSD", 0.01, type_filling=Filling.FOK))
    first, second = driver.positions()
    clock.at += 600_000
    bid = driver.tick("BTCUSD").bid

    closed = driver.order_send(close(first, type_filling=Filling.FOK))

    assert closed.retcode == 10009 and closed.price == bid and closed.order != first.ticket
    assert [p.ticket for p in driver.positions()] == [second.ticket]  # hedging: only the named one closed
    expected = round((bid - first.price_open) / 0.01 * 0.01 * 0.05, 2)
    assert driver.account_info().balance == pytest.approx(10000 + expected)
    deals = driver.deals(since=datetime(2026, 11, 18, tzinfo=UTC), until=datetime(2026, 11, 19, tzinfo=UTC))
    assert [(d.entry, d.position_id) for d in deals] == [(0, first.ticket), (0, second.ticket), (1, first.ticket)]
    assert driver.deals(since=datetime(2026, 11, 19, tzinfo=UTC), until=datetime(2026, 11, 20, tzinfo=UTC)) == []


def test_ea_that_takes_nothing_times_out_and_the_command_is_withdrawn(bridge):
    driver, ea = bridge
    ea.paused = True

    result = driver.order_send(buy())
    ea.paused = False
    ea.poll_once()

    assert result.retcode == 10012 and result.retcode in AMBIGUOUS
    assert "withdrawn unexecuted" in result.comment
    assert leftovers(driver) == [] and ea.commands == [] and driver.positions() == []


def test_late_result_of_a_timed_out_command_never_answers_the_next_one(bridge):
    driver, ea = bridge
    ea.hold_results = True
    late = driver.order_send(buy(comment="first"))
    ea.hold_results = False
    ea.release_results()

    next_one = driver.order_send(buy(volume=0.02, comment="second"))

    assert late.retcode == 10012 and "may have run" in late.comment
    first, second = driver.positions()  # the timed-out command did run: reconciliation finds it
    assert first.comment == "first" and second.comment == "second"
    assert next_one.retcode == 10009 and next_one.order == second.ticket and next_one.volume == 0.02
    assert leftovers(driver) == []


@pytest.mark.parametrize(
    ("rewrite", "reason"),
    [
        (lambda result: '{"command_id": "', "not JSON"),
        (lambda result: "[1, 2]", "not a JSON object"),
        (lambda result: json.dumps({**result, "retcode": "10009"}), "retcode must be an integer"),
        (lambda result: json.dumps({**result, "price": None}), "price must be a number"),
        (lambda result: json.dumps({**result, "command_id": "someone-else"}), "names command 'someone-else'"),
        (lambda result: json.dumps(result).replace('"bid": ', '"bid": NaN, "x": '), "NaN is not a number"),
        (lambda result: json.dumps({**result, "price": 10**400}), "price must be a number"),
        (lambda result: json.dumps(result).replace('"deal": ', '"deal": ' + "1" * 5000 + ', "x": '), "reads (Value"),
        (lambda result: '{"command_id": ' + "[" * 100_000 + "]" * 100_000 + "}", "not JSON"),
    ],
)
def test_unreadable_result_is_an_ambiguous_receive_failure(bridge, rewrite, reason):
    driver, ea = bridge
    ea.rewrite_next_result(rewrite)

    broken = driver.order_send(buy(comment="cid-1"))
    fine = driver.order_send(buy(comment="cid-2"))

    assert broken.retcode == -10002 and broken.retcode in AMBIGUOUS
    assert reason in broken.comment and "outcome unknown" in broken.comment
    assert fine.retcode == 10009
    assert [p.comment for p in driver.positions()] == ["cid-1", "cid-2"]
    assert leftovers(driver) == []


def test_result_seen_while_still_being_written_is_read_once_whole(bridge):
    driver, ea = bridge
    ea.write_results_in_two_steps = True

    result = driver.order_send(buy())

    assert result.retcode == 10009 and result.order == driver.positions()[0].ticket


def test_slow_ea_answering_within_the_timeout_is_waited_for(bridge):
    driver, ea = bridge
    ea.delay = 0.1

    assert driver.order_send(buy()).retcode == 10009


def test_stale_status_means_the_terminal_is_offline_and_nothing_is_sent(db, tmp_path, clock):
    driver, ea = ea_bridge_driver(tmp_path, clock=clock, stale_after=0.2)
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    ea.paused = True
    time.sleep(0.3)

    with pytest.raises(TerminalError) as read:
        driver.positions()
    with pytest.raises(TerminalError) as send:
        driver.order_send(buy())

    assert read.value.code == send.value.code == -10004
    assert "EA not responding" in read.value.message
    assert leftovers(driver) == []


def test_connect_checks_the_terminal_is_logged_in_to_that_account(db, tmp_path, clock):
    driver, _ = ea_bridge_driver(tmp_path, clock=clock)

    with pytest.raises(TerminalError) as not_connected:
        driver.account_info()
    with pytest.raises(TerminalError) as other_login:
        driver.connect(login=8002, password=PASSWORD, server=SERVER)
    with pytest.raises(TerminalError) as other_server:
        driver.connect(login=LOGIN, password=PASSWORD, server="SimStandard-Demo")
    account = driver.connect(login=str(LOGIN), password="not sent anywhere", server=SERVER)

    assert not_connected.value.code == -10004
    assert other_login.value.code == other_server.value.code == -6
    assert f"logged in to {LOGIN} on {SERVER}" in other_login.value.message
    assert (account.login, account.server, account.balance) == (LOGIN, SERVER, 10000)


def test_terminal_switched_to_another_account_after_connect_is_refused(bridge):
    driver, ea = bridge
    ea.paused = True
    EASimulator(driver.files_dir, login=8002, password="other", server=SERVER, clock=ea.terminal.clock)

    with pytest.raises(TerminalError) as switched:
        driver.positions()

    assert switched.value.code == -6 and "8002" in switched.value.message


def test_no_status_file_means_the_ea_is_not_running(tmp_path):
    driver = EABridgeDriver(tmp_path)

    with pytest.raises(TerminalError) as missing:
        driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)

    assert missing.value.code == -10004 and "no status.json" in missing.value.message


@pytest.mark.parametrize(
    ("mangle", "code", "words"),
    [
        (lambda status: "{", -10002, "not JSON"),
        (lambda status: json.dumps({**status, "account": {**status["account"], "login": "7001"}}), -10002, "login"),
        (lambda status: json.dumps({**status, "positions": {}}), -10002, "positions must be an array"),
        (lambda status: json.dumps({**status, "symbols": [{"name": "GOLD"}]}), -10002, "symbols[0].description"),
        (lambda status: json.dumps(status).replace('"balance": 10000.0', '"balance": Infinity'), -10002, "Infinity"),
        (lambda status: json.dumps({**status, "version": 2}), -5, "protocol 2"),
    ],
)
def test_malformed_status_is_a_clear_terminal_error(bridge, mangle, code, words):
    driver, ea = bridge
    ea.paused = True
    status_path = driver.files_dir / "status.json"
    status_path.write_text(mangle(json.loads(status_path.read_text())), encoding="utf-8")

    with pytest.raises(TerminalError) as error:
        driver.account_info()

    assert error.value.code == code and words in error.value.message


def test_rejected_commands_carry_the_eas_explanation(bridge):
    driver, _ = bridge

    bad_volume = driver.order_send(buy(volume=0.015))
    gone = driver.order_send(buy(type=OrderType.SELL, position=424242))
    fok_on_ioc_only = driver.order_send(buy(type_filling=Filling.FOK))

    assert bad_volume.retcode == 10014 and "Invalid volume" in bad_volume.comment
    assert gone.retcode == 10036 and "position 424242 is not open" in gone.comment
    assert fok_on_ioc_only.retcode == 10030
    assert driver.positions() == []


def test_ea_refuses_unparseable_expired_and_foreign_commands_with_a_reason(bridge):
    driver, ea = bridge
    (driver.files_dir / "webhook_command_0001-bad.json").write_text('{"action": "BUY"', encoding="utf-8")
    (driver.files_dir / "slave_command_0002-old.json").write_text(
        json.dumps({**_command(LOGIN), "command_id": "0002-old", "expires_msc": 1}), encoding="utf-8"
    )
    (driver.files_dir / "webhook_command_0003-other.json").write_text(
        json.dumps({**_command(8002), "command_id": "0003-other"}), encoding="utf-8"
    )

    ea.poll_once()

    answers = {
        name: json.loads((driver.files_dir / f"result_{name}.json").read_text())
        for name in ("0001-bad", "0002-old", "0003-other")
    }
    assert answers["0001-bad"]["retcode"] == 10013 and "not JSON" in answers["0001-bad"]["message"]
    assert answers["0002-old"]["retcode"] == 10012 and "expired" in answers["0002-old"]["message"]
    assert answers["0003-other"]["retcode"] == 10013 and "command for account 8002" in answers["0003-other"]["message"]
    assert driver.positions() == []


def _command(account: int) -> dict:
    return {
        "version": 1,
        "timestamp": int(time.time() * 1000),
        "expires_msc": int(time.time() * 1000) + 60_000,
        "account": account,
        "action": "BUY",
        "order_type": "market",
        "symbol": "GOLD",
        "original_symbol": "XAUUSD",
        "volume": 0.01,
        "price": 0,
        "stop_loss": 0,
        "take_profit": 0,
        "ticket": 0,
        "deviation": 20,
        "filling": "IOC",
        "magic": 0,
        "comment": "",
        "order_id": "order_1",
    }


def test_reads_come_from_the_eas_status_snapshot(bridge, clock):
    driver, _ = bridge
    paper = SimulatedDriver(clock=clock)
    paper.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    driver.order_send(buy("GOLD", 0.02))
    driver.order_send(buy("BTCUSD", 0.01, type_filling=Filling.FOK))
    gold, btc = driver.positions()

    assert driver.symbols() == paper.symbols()
    assert driver.symbol_info("GOLD") == paper.symbol_info("GOLD")
    assert driver.symbol_info("XAUUSD") is None and driver.tick("XAUUSD") is None
    assert driver.tick("US30.cash") == paper.tick("US30.cash")
    assert driver.positions(symbol="BTCUSD") == [btc] and driver.positions(ticket=gold.ticket) == [gold]
    assert driver.positions() == paper.positions()
    assert driver.account_info() == paper.account_info()


def test_order_check_asks_the_ea_and_trades_nothing(bridge):
    driver, ea = bridge

    ok = driver.order_check(buy())
    bad = driver.order_check(buy(volume=0.013))

    assert ok.retcode == 0 and bad.retcode == 10014
    assert driver.positions() == [] and len(ea.commands) == 2


def test_slave_command_links_the_position_to_the_master_order(bridge):
    driver, ea = bridge

    opened = driver.order_send(buy("BTCUSD", 0.03, type_filling=Filling.FOK), kind="slave", copy_order_id="order_12345")
    [position] = driver.positions()
    sl = round(position.price_current - 500, 2)
    # Ticket 0: the EA finds the position by its COPY_ link, as the master's modify names only its order.
    modified = driver.order_send(
        OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", sl=sl), kind="slave", copy_order_id="order_12345"
    )
    unlinked = driver.order_send(
        OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", sl=sl), kind="slave", copy_order_id="order_999"
    )

    assert opened.retcode == 10009 and position.comment == "COPY_order_12345"
    assert [c["order_id"] for c in ea.commands] == ["order_12345"] * 2 + ["order_999"]
    assert modified.retcode == 10009 and driver.positions()[0].sl == sl
    assert unlinked.retcode == 10036 and "COPY_order_999" in unlinked.comment
    with pytest.raises(ValueError, match="copy_order_id"):
        driver.order_send(buy(), kind="slave")


def test_requests_the_protocol_cannot_carry_are_refused_without_a_file(bridge):
    driver, ea = bridge

    close_by = driver.order_send(OrderRequest(action=TradeAction.CLOSE_BY, symbol="GOLD", position=1))
    limit_as_deal = driver.order_send(
        OrderRequest(action=TradeAction.DEAL, symbol="GOLD", type=OrderType.BUY_LIMIT, volume=0.01)
    )
    not_finite = driver.order_send(buy(volume=float("nan")))

    assert (close_by.retcode, limit_as_deal.retcode, not_finite.retcode) == (10013, 10035, 10013)
    assert ea.commands == [] and leftovers(driver) == []


def test_ea_in_its_own_thread_trades_through_the_files(transactional_db, tmp_path, clock):
    driver, ea = ea_bridge_driver(tmp_path, clock=clock, threaded=True)
    try:
        driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
        opened = driver.order_send(buy("BTCUSD", 0.01, type_filling=Filling.FOK))
        closed = driver.order_send(close(driver.positions()[0], type_filling=Filling.FOK))
    finally:
        ea.stop()

    assert (opened.retcode, closed.retcode) == (10009, 10009)
    assert driver.positions() == []


def test_slave_command_keeps_the_hosts_comment_and_a_cut_link_still_finds_its_position(bridge):
    driver, ea = bridge
    long_id = "ticket-" + "7" * 33  # "COPY_" + it is longer than a comment: the host cuts the link
    host_comment = f"COPY_{long_id}"[:22] + " mt5s1f"

    opened = driver.order_send(
        buy("BTCUSD", 0.02, type_filling=Filling.FOK, comment=host_comment), kind="slave", copy_order_id=long_id
    )
    [position] = driver.positions()
    (driver.files_dir / "slave_command_0009-close.json").write_text(
        json.dumps({**_command(LOGIN), "command_id": "0009-close", "action": "CLOSE", "symbol": "",
                    "volume": 0, "filling": "FOK", "order_id": long_id}),
        encoding="utf-8",
    )  # fmt: skip
    ea.poll_once()
    closed = json.loads((driver.files_dir / "result_0009-close.json").read_text())

    assert opened.retcode == 10009 and position.comment == host_comment
    assert closed["retcode"] == 10009 and closed["ticket"] == position.ticket
    assert driver.positions() == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"order_id": ""}, "order_id must be 1 to 64"),
        ({"volume": -0.01}, "must not be negative"),
        ({"ticket": -1}, "must not be negative"),
        ({"comment": 7}, "comment must be a string"),
        ({"timestamp": "now"}, "timestamp must be an integer"),
    ],
)
def test_ea_refuses_slave_commands_that_break_the_protocol(bridge, change, words):
    driver, ea = bridge
    command = {**_command(LOGIN), "command_id": "0010-bad", **change}
    (driver.files_dir / "slave_command_0010-bad.json").write_text(json.dumps(command), encoding="utf-8")

    ea.poll_once()

    answer = json.loads((driver.files_dir / "result_0010-bad.json").read_text())
    assert answer["retcode"] == 10013 and words in answer["message"]
    assert driver.positions() == []


def test_ea_answers_an_oversized_command_file_without_trading(bridge):
    driver, ea = bridge
    command = {**_command(LOGIN), "command_id": "0011-big", "comment": "x" * 70_000}
    (driver.files_dir / "webhook_command_0011-big.json").write_text(json.dumps(command), encoding="utf-8")

    ea.poll_once()

    answer = json.loads((driver.files_dir / "result_0011-big.json").read_text())
    assert answer["retcode"] == 10013 and "larger than 65536 bytes" in answer["message"]
    assert not (driver.files_dir / "webhook_command_0011-big.json").exists()
    assert driver.positions() == []
