"""Deals reports of the EA bridge (docs/ea-protocol.md, "Deals reports"): the whole history, every
deal with MT5's fields, page by page; a report that breaks the protocol is refused whole, with a
logged error, and the next call reads everything again."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from terminals.drivers import ea_deals
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
from terminals.paper.cashier import balance_operation
from terminals.paper.hand import hand_trade
from terminals.paper.market import SERVERS, quote
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.clocks import WEDNESDAY_NOON, Clock

LOGIN, PASSWORD, SERVER = 7001, "paper-pass", "SimBroker-Demo"
EVER = {"since": datetime(2026, 1, 1, tzinfo=UTC), "until": datetime(2027, 1, 1, tzinfo=UTC)}
DAY = 86_400_000


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_NOON - 3 * DAY)


@pytest.fixture
def bridge(db, tmp_path, clock):
    driver, ea = ea_bridge_driver(tmp_path, clock=clock, timeout=0.3)
    driver.connect(login=LOGIN, password=PASSWORD, server=SERVER)
    return driver, ea


def market(side: int, volume: float = 0.01, **fields) -> OrderRequest:
    return OrderRequest(
        action=TradeAction.DEAL, symbol="BTCUSD", type=side, volume=volume, type_filling=Filling.FOK, **fields
    )


def history(driver, clock) -> None:
    """A deposit and our buy three days ago; its stop loss hit meanwhile, booked when the server
    next looks: now, as a hand trade from the phone comes in."""
    balance_operation(server=SERVER, login=LOGIN, amount=Decimal("500"), clock=clock)
    bid = driver.tick("BTCUSD").bid
    driver.order_send(market(OrderType.BUY, sl=round(bid - 20, 2)))
    clock.at = next(at for at in range(WEDNESDAY_NOON, WEDNESDAY_NOON + DAY, 5_000) if _bid(at) < bid - 20)
    hand_trade(server=SERVER, login=LOGIN, request=market(OrderType.SELL), reason=DealReason.MOBILE, clock=clock)


def _bid(at: int) -> float:
    return quote(SERVERS[SERVER]["BTCUSD"], at)[0]


def files(driver) -> list[str]:
    return sorted(p.name for p in driver.files_dir.iterdir() if p.name.startswith("deals"))


def test_the_ea_reports_the_whole_history_with_every_field(bridge, clock):
    driver, ea = bridge
    history(driver, clock)

    deals = driver.deals(**EVER)

    assert deals == ea.terminal.deals(**EVER)
    assert [(d.type, d.entry, d.reason) for d in deals] == [
        (DealType.BALANCE, DealEntry.IN, DealReason.CLIENT),
        (DealType.BUY, DealEntry.IN, DealReason.EXPERT),
        (DealType.SELL, DealEntry.OUT, DealReason.SL),
        (DealType.SELL, DealEntry.IN, DealReason.MOBILE),
    ]
    # Older than status.json's last day, and still reported.
    assert deals[0].time_msc < clock.at - DAY and deals[0].profit == 500.0
    assert [d.ticket for d in driver.status().deals] == [d.ticket for d in deals[2:]]
    assert files(driver) == []  # request and report both gone
    [request] = ea.deals_requests
    assert (request["account"], request["since_msc"], request["limit"]) == (LOGIN, 1767225600000, 1000)


def test_a_window_gives_only_its_deals(bridge, clock):
    driver, _ = bridge
    history(driver, clock)
    since = datetime.fromtimestamp(WEDNESDAY_NOON / 1000, tz=UTC)

    deals = driver.deals(since=since, until=EVER["until"])

    assert [d.reason for d in deals] == [DealReason.SL, DealReason.MOBILE]


def test_a_long_history_comes_page_by_page_each_deal_once(bridge, clock, monkeypatch):
    driver, ea = bridge
    monkeypatch.setattr(ea_deals, "REPORT_LIMIT", 2)
    for _ in range(5):
        driver.order_send(market(OrderType.BUY))
        clock.at += 1_000

    deals = driver.deals(**EVER)

    assert deals == ea.terminal.deals(**EVER) and len(deals) == 5
    # Each page starts at the millisecond the last one ended (inclusive): 2 + 1 + 1 + 1 new deals.
    assert len(ea.deals_requests) == 4


def _cut(lines):
    return "".join(f"{line}\n" for line in lines[:-1])


def _record(lines, **change):
    header, first, *rest = lines
    record = {**json.loads(first), **change}
    return "".join(f"{line}\n" for line in [header, json.dumps(record), *rest])


def _without(lines, name):
    header, first, *rest = lines
    record = json.loads(first)
    del record[name]
    return "".join(f"{line}\n" for line in [header, json.dumps(record), *rest])


def _header(lines, **change):
    header, *rest = lines
    return "".join(f"{line}\n" for line in [json.dumps({**json.loads(header), **change}), *rest])


@pytest.mark.parametrize(
    ("rewrite", "words"),
    [
        (lambda lines: "".join(f"{line}\n" for line in lines).replace("}\n", "\n", 2), "not JSON"),
        (lambda lines: "".join(f"{line}\n" for line in lines)[:-1], "line break"),
        (_cut, "announces"),
        (lambda lines: _record(lines, external_id="X-1"), "does not know: 'external_id'"),
        (lambda lines: _record(lines, ticket="5"), "line 2.ticket must be an integer"),
        (lambda lines: _record(lines, volume=None), "line 2.volume must be a number"),
        (lambda lines: _record(lines, reason=42), "line 2.reason 42 is not one of MT5's"),
        (lambda lines: _record(lines, type=99), "line 2.type 99"),
        (lambda lines: _record(lines, ticket=0), "ticket must be positive"),
        (lambda lines: _record(lines, time_msc=1), "outside the window"),
        (lambda lines: _without(lines, "commission"), "line 2.commission is missing"),
        (lambda lines: _header(lines, request_id="another"), "answers request 'another'"),
        (lambda lines: _header(lines, account=999), "of account 999"),
        (lambda lines: _header(lines, error="HistorySelect failed (error 4401)"), "HistorySelect failed"),
        (lambda lines: _header(lines, complete="yes"), "complete must be true or false"),
        (lambda lines: "", "line break"),
        (lambda lines: "\n", "not JSON"),
    ],
)
def test_a_report_that_breaks_the_protocol_is_refused_whole_and_logged(bridge, clock, caplog, rewrite, words):
    driver, ea = bridge
    history(driver, clock)
    ea.rewrite_next_report(rewrite)

    with caplog.at_level(logging.ERROR, logger="terminals.drivers.ea_deals"), pytest.raises(TerminalError) as refused:
        driver.deals(**EVER)

    assert refused.value.code == -10002 and words in refused.value.message
    assert any(words in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)
    assert files(driver) == []
    assert len(driver.deals(**EVER)) == 4  # asked again: nothing lost


def test_an_ea_that_does_not_answer_leaves_nothing_behind(bridge, clock, monkeypatch):
    driver, ea = bridge
    driver.order_send(market(OrderType.BUY))
    monkeypatch.setattr(ea, "_report_deals", lambda path, request_id: None)  # never looks at requests

    with pytest.raises(TerminalError) as late:
        driver.deals(**EVER)

    assert late.value.code == -10001 and files(driver) == []  # the request was withdrawn


def test_a_late_report_of_a_request_the_ea_took_is_deleted_not_read(bridge, clock, monkeypatch):
    driver, ea = bridge
    driver.order_send(market(OrderType.BUY))
    taken = []
    monkeypatch.setattr(ea, "_report_deals", lambda path, request_id: (path.unlink(), taken.append(request_id)))
    with pytest.raises(TerminalError):
        driver.deals(**EVER)
    (driver.files_dir / f"deals_{taken[0]}.jsonl").write_text("garbage\n", encoding="utf-8")
    monkeypatch.undo()

    deals = driver.deals(**EVER)

    assert len(deals) == 1 and files(driver) == []


def test_a_request_for_another_account_or_an_expired_one_gets_no_deals(bridge, clock):
    driver, ea = bridge
    driver.order_send(market(OrderType.BUY))
    driver.login = 424242
    ea.publish_status()

    with pytest.raises(TerminalError):
        driver.deals(**EVER)  # status() refuses first: the EA's terminal is on another account
    driver.login = LOGIN
    exchange = driver._deals
    with pytest.raises(TerminalError) as other:
        exchange.history(424242, 0, 2**40)

    assert other.value.code == -10002 and "logged in to 7001" in other.value.message
