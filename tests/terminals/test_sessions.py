"""Terminal sessions in real processes: the MetaTrader5 driver on the fake module in a spawned child.

The database choice: a session is a separate interpreter and cannot see pytest-django's
in-memory SQLite test database, while the fake MetaTrader5 module trades on the paper broker,
which lives in the database. So the children get a migrated SQLite file of their own (one per
module) through DATABASE_URL in the environment they inherit. The parent never needs it: tests
talk to sessions only through SessionClient, as a qcluster worker does.
"""

import dataclasses
import itertools
import multiprocessing
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from mt5saas.crypto import encrypt
from terminals.drivers.base import OrderRequest, OrderResult, OrderType, Position, TerminalError, TradeAction
from terminals.models import TerminalHost, TradingAccount
from terminals.paper.driver import SimulatedDriver
from terminals.sessions.client import SessionClient
from terminals.sessions.protocol import SessionError, SessionSpec
from terminals.sessions.registry import SessionRegistry, account_session_spec, start_session
from tests.factories import TradingAccountFactory
from tests.fakes.mt5_env import FAKES

PASSWORD = "paper-pass"


class TimedPaperDriver(SimulatedDriver):
    """A paper terminal whose order_send takes a while and reports, in the result's deal and
    order fields, when it started and ended (monotonic ns in the session process)."""

    def order_send(self, request: OrderRequest) -> OrderResult:
        started = time.monotonic_ns()
        time.sleep(0.02)
        result = super().order_send(request)
        return dataclasses.replace(result, deal=started, order=time.monotonic_ns())


@pytest.fixture
def stopping():
    """Collects sessions and stops them after the test, whatever happened."""
    sessions = []
    yield sessions.append
    for session in sessions:
        session.stop()


def mt5_spec(login: int, password: str = PASSWORD) -> SessionSpec:
    return SessionSpec(
        driver="terminals.drivers.mt5.MetaTrader5Driver",
        login=login,
        server="SimBroker-Demo",
        password=encrypt(password),
        options={"path": rf"C:\mt5\instances\{login}\terminal64.exe"},
        sys_path=(FAKES,),
    )


def buy(**fields) -> OrderRequest:
    # BTCUSD trades at any hour, so the test does not depend on the day it runs.
    return OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", type=OrderType.BUY, volume=0.01, **fields)


def test_session_attaches_once_and_answers_with_driver_dataclasses(children_env, stopping):
    session = start_session(mt5_spec(7101))
    stopping(session)
    client = session.client

    sent = client.order_send(buy(comment="cid-1"))
    positions = client.positions(symbol="BTCUSD")

    assert client.account_info().login == 7101
    assert isinstance(sent, OrderResult) and sent.retcode == 10009
    assert [(type(p), p.ticket, p.comment) for p in positions] == [(Position, sent.order, "cid-1")]
    assert client.symbol_info("NOPE") is None
    deals = client.deals(since=datetime.now(UTC) - timedelta(hours=1), until=datetime.now(UTC) + timedelta(hours=1))
    assert [d.order for d in deals] == [sent.order]


def test_errors_in_the_session_are_raised_in_the_caller(children_env, stopping):
    session = start_session(mt5_spec(7102))
    stopping(session)

    with pytest.raises(TerminalError) as refused:
        # The module refuses a symbol that is not a string.
        session.client.order_send(OrderRequest(action=TradeAction.DEAL, symbol=30, volume=0.01))
    with pytest.raises(TerminalError) as bad_date:
        session.client.deals(since="yesterday", until="today")
    with pytest.raises(SessionError, match="TypeError"):
        session.client.call("positions", "BTCUSD")  # keyword-only in the Driver interface
    with pytest.raises(SessionError, match="not a call a session runs"):
        session.client.call("_account")

    assert refused.value.code == -2 and 'Invalid "symbol" argument' in refused.value.message
    assert bad_date.value.code == -2 and 'Invalid "date_from" argument' in bad_date.value.message
    assert session.client.positions() == []


def test_a_refused_login_fails_the_start_and_leaves_no_process(children_env, stopping):
    stopping(start_session(mt5_spec(7103)))  # opens the paper account with the right password

    with pytest.raises(TerminalError) as refused:
        start_session(mt5_spec(7103, password="wrong-pass"))

    assert refused.value.code == -6 and "Authorization failed" in refused.value.message
    assert "wrong-pass" not in str(refused.value)
    # Only the first session is still running.
    assert [p.name for p in multiprocessing.active_children()].count("terminal-session-7103") == 1


def test_the_session_is_bound_to_its_account(children_env, stopping):
    session = start_session(mt5_spec(7104))
    stopping(session)

    same = session.client.connect(login=7104, password="not sent", server="SimBroker-Demo")
    with pytest.raises(TerminalError) as other:
        session.client.connect(login=7105, password=PASSWORD, server="SimBroker-Demo")

    assert same.login == 7104
    assert other.value.code == -2


def test_calls_from_several_clients_run_one_at_a_time(children_env, stopping):
    session = start_session(dataclasses.replace(mt5_spec(7106), driver=f"{__name__}.TimedPaperDriver", options={}))
    stopping(session)
    spans: list[tuple[int, int]] = []

    def worker() -> None:
        client = session.client.fresh()
        for _ in range(4):
            result = client.order_send(buy())
            spans.append((result.deal, result.order))
        client.shutdown()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    spans.sort()
    assert len(spans) == 12
    assert all(ended <= next_started for (_, ended), (next_started, _) in itertools.pairwise(spans))
    assert len(session.client.positions()) == 12


def test_a_caller_without_the_key_is_refused_and_the_session_serves_on(children_env, stopping):
    session = start_session(mt5_spec(7107))
    stopping(session)
    stranger = SessionClient(session.client.address, b"guessed", login=7107, server="SimBroker-Demo")

    with pytest.raises(TerminalError) as refused:
        stranger.positions()

    assert refused.value.code == -10004
    assert session.client.positions() == []


def test_registry_reuses_restarts_a_dead_session_and_stops(children_env):
    registry = SessionRegistry({1: mt5_spec(7108), 2: mt5_spec(7109)}.__getitem__)
    try:
        first, other = registry.session(1), registry.session(2)
        first.client.order_send(buy())
        reused = registry.session(1)

        os.kill(first.pid, signal.SIGKILL)
        first.process.join()
        with pytest.raises(TerminalError) as lost:
            first.client.positions()
        again = registry.session(1)
        registry.stop(1)
    finally:
        registry.stop_all()

    assert reused is first and other.pid != first.pid
    assert lost.value.code in (-10001, -10002)
    assert again.pid != first.pid
    assert not again.alive() and again.process.exitcode == 0
    assert not other.alive()


def test_stop_ends_the_process_cleanly(children_env):
    session = start_session(mt5_spec(7110))

    session.stop()

    assert not session.alive() and session.process.exitcode == 0
    with pytest.raises(TerminalError):
        session.client.positions()


@pytest.mark.django_db
def test_account_spec_names_the_portable_instance_and_keeps_the_password_encrypted(alice):
    host = TerminalHost.objects.create(name="win-1", queue_name="win-1", instance_root=r"C:\mt5\instances")
    ciphertext = encrypt("broker-pass")
    account = TradingAccountFactory(
        owner=alice, login="5123456", kind=TradingAccount.Kind.MT5, host=host, password=ciphertext
    )
    bridge = TradingAccountFactory(owner=alice, kind=TradingAccount.Kind.EA_BRIDGE, host=host)

    spec = account_session_spec(account.pk)

    assert spec.driver == "terminals.drivers.mt5.MetaTrader5Driver"
    assert spec.options == {"path": r"C:\mt5\instances\5123456\terminal64.exe"}
    assert (spec.login, spec.server, spec.password) == (5123456, "SimBroker-Demo", ciphertext)
    assert "broker-pass" not in repr(spec) and ciphertext not in repr(spec)
    with pytest.raises(ValueError, match="do not run in a terminal session"):
        account_session_spec(bridge.pk)
