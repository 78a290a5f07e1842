"""Order execution against the simulated terminal: at most once, per-account order,
bounded retries, reconciliation, guards and closes. BTCUSD trades around the clock."""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from terminals.drivers.base import TerminalError
from terminals.gateway import simulated_driver
from terminals.models import Order, SimAccount, TradingAccount
from terminals.orders import MAGIC
from terminals.orders.drain import MAX_CHECKS, SETTLE, account_drain, order_execute
from terminals.orders.locks import LEASE, drain_lock_path
from terminals.orders.queue import orders_sweep
from terminals.paper.driver import SimulatedDriver
from terminals.services import account_connect
from tests.factories import OrderFactory
from tests.terminals.interruptions import connection_drops, recording_final_states


@pytest.fixture
def account(alice) -> TradingAccount:
    return account_connect(owner=alice, login="8800001", password="pw", server="SimBroker-Demo", kind="simulated")


def order(account, **fields) -> Order:
    defaults = {"owner": account.owner, "account": account, "signal": None, "requested_symbol": "BTCUSD"}
    return OrderFactory(**{**defaults, "comment": "", **fields})


def positions(account):
    return simulated_driver(account).positions()


@pytest.fixture
def drain_locks(tmp_path, settings):
    """Drain locks on SQLite too: the suite's in-memory database has no file to lock beside it."""
    if connection.vendor == "sqlite":
        settings.ORDER_DRAIN_LOCK_DIR = str(tmp_path)


@contextmanager
def drain_running_elsewhere(account):
    """A live drain of the account in another process: its drain lock held, its lease taken."""
    TradingAccount.objects.filter(pk=account.pk).update(drain_until=timezone.now() + timedelta(minutes=1))
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.settings_dict
        server = {"host": params["HOST"] or "127.0.0.1", "port": params["PORT"] or 5432, "user": params["USER"]}
        with psycopg.connect(dbname=params["NAME"], password=params["PASSWORD"] or None, **server) as other:
            other.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", [MAGIC, account.pk])
            yield
        return
    import fcntl

    path = drain_lock_path(account.pk)
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


@pytest.mark.django_db
def test_market_order_fills_once_with_its_client_id_on_the_terminal(account):
    buy = order(account, side="buy", volume=Decimal("0.05"))

    assert account_drain(account.pk) == 1
    assert account_drain(account.pk) == 0

    buy.refresh_from_db()
    opened = positions(account)
    assert buy.status == "filled" and buy.retcode == 10009 and buy.symbol == "BTCUSD"
    assert [(p.volume, p.comment) for p in opened] == [(0.05, buy.client_id)]
    assert buy.ticket == opened[0].ticket and buy.fill_price == Decimal(str(opened[0].price_open))
    assert buy.sent_at and buy.done_at and buy.attempts == 1


@pytest.mark.django_db
def test_orders_of_one_account_run_in_arrival_order(account):
    first = order(account, side="buy", volume=Decimal("0.01"))
    second = order(account, side="sell", volume=Decimal("0.02"))
    third = order(account, action="close_all", side="", volume=None)

    account_drain(account.pk)

    rows = Order.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("pk")
    assert [o.status for o in rows] == ["filled", "filled", "filled"]
    assert rows[0].done_at <= rows[1].sent_at and rows[1].done_at <= rows[2].sent_at
    assert positions(account) == [] and rows[2].status_reason == "Closed 2 position(s)."


@pytest.mark.django_db
def test_a_drain_that_finds_another_drain_running_does_nothing(account, drain_locks):
    waiting = order(account, side="buy", volume=Decimal("0.01"))
    Order.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    with drain_running_elsewhere(account):
        assert account_drain(account.pk) == 0
        assert orders_sweep(accounts=TradingAccount.objects.all()) == 0

    waiting.refresh_from_db()
    assert waiting.status == "queued" and positions(account) == []


@pytest.mark.django_db
def test_the_lease_of_a_drain_that_died_is_taken_over_at_once(account, drain_locks):
    """A worker killed with SIGKILL mid-drain leaves its lease for two minutes, and its order
    `sending`; its drain lock went with it, so the next drain carries on at once."""
    interrupted = order(account, side="buy", volume=Decimal("0.01"))
    behind = order(account, side="buy", volume=Decimal("0.02"))
    Order.objects.filter(pk=interrupted.pk).update(status="sending", sent_at=timezone.now())
    TradingAccount.objects.filter(pk=account.pk).update(drain_until=timezone.now() + LEASE)

    assert account_drain(account.pk) == 2

    rows = Order.objects.filter(pk__in=[interrupted.pk, behind.pk]).order_by("pk")
    assert [o.status for o in rows] == ["filled", "filled"]
    assert sorted(p.volume for p in positions(account)) == [0.01, 0.02]
    assert TradingAccount.objects.get(pk=account.pk).drain_until is None


@pytest.mark.django_db
def test_a_drain_that_died_without_its_lock_leaves_the_lease_to_expire(account):
    """Without a drain lock (an in-memory SQLite database), only the lease's expiry frees the account."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL always has its advisory locks")
    waiting = order(account, side="buy", volume=Decimal("0.01"))
    TradingAccount.objects.filter(pk=account.pk).update(drain_until=timezone.now() + timedelta(minutes=1))

    assert account_drain(account.pk) == 0
    TradingAccount.objects.filter(pk=account.pk).update(drain_until=timezone.now() - timedelta(seconds=1))
    assert account_drain(account.pk) == 1
    waiting.refresh_from_db()
    assert waiting.status == "filled"


@pytest.mark.django_db
def test_an_order_left_sending_is_reconciled_not_sent_again(account):
    """The worker died after the terminal placed the order but before recording it."""
    interrupted = order(account, side="buy", volume=Decimal("0.03"))
    with connection_drops(recording_final_states), pytest.raises(DatabaseError):
        account_drain(account.pk)  # reached the broker…
    assert Order.objects.get(pk=interrupted.pk).status == "sending"  # …and nothing was recorded
    assert len(positions(account)) == 1

    account_drain(account.pk)

    interrupted.refresh_from_db()
    assert interrupted.status == "filled" and "after an interruption" in interrupted.status_reason
    assert len(positions(account)) == 1


@pytest.mark.django_db
def test_an_order_left_sending_that_never_reached_the_broker_is_sent_once(account):
    lost = order(account, side="buy", volume=Decimal("0.02"))
    Order.objects.filter(pk=lost.pk).update(status="sending")

    account_drain(account.pk)

    lost.refresh_from_db()
    assert lost.status == "filled" and len(positions(account)) == 1


@pytest.mark.django_db
def test_an_interrupted_order_on_a_real_terminal_is_resent_only_after_it_settled(account):
    """A real terminal may still place what a worker asked just before it died."""
    driver = simulated_driver(account)
    interrupted = order(account, side="buy", volume=Decimal("0.01"))
    TradingAccount.objects.filter(pk=account.pk).update(kind="mt5")
    Order.objects.filter(pk=interrupted.pk).update(status="sending", sent_at=timezone.now())

    assert order_execute(order=Order.objects.get(pk=interrupted.pk), driver=driver) == 0
    assert Order.objects.get(pk=interrupted.pk).status == "sending" and positions(account) == []

    Order.objects.filter(pk=interrupted.pk).update(sent_at=timezone.now() - SETTLE - timedelta(seconds=1))
    assert order_execute(order=Order.objects.get(pk=interrupted.pk), driver=driver) == 1
    assert Order.objects.get(pk=interrupted.pk).status == "filled" and len(positions(account)) == 1


@pytest.mark.django_db
def test_an_order_whose_fate_cannot_be_checked_holds_its_account_for_max_checks_drains(account, monkeypatch):
    interrupted = order(account, side="buy", volume=Decimal("0.01"))
    behind = order(account, side="buy", volume=Decimal("0.02"))
    Order.objects.filter(pk=interrupted.pk).update(status="sending", sent_at=timezone.now())

    def unreachable(self, **filters):
        raise TerminalError(-10004, "Internal IPC no ipc")

    monkeypatch.setattr(SimulatedDriver, "positions", unreachable)
    for check in range(1, MAX_CHECKS):
        assert account_drain(account.pk) == 0  # one look per drain; the order behind it waits
        assert Order.objects.get(pk=interrupted.pk).attempts == check
        assert Order.objects.get(pk=behind.pk).status == "queued"
    assert account_drain(account.pk) == 2
    monkeypatch.undo()

    interrupted.refresh_from_db()
    assert interrupted.status == "failed" and "never confirmed or denied" in interrupted.status_reason
    assert Order.objects.get(pk=behind.pk).status == "filled" and [p.volume for p in positions(account)] == [0.02]


@pytest.mark.django_db
def test_requotes_are_retried_with_a_fresh_price_a_bounded_number_of_times(account):
    # The first order meets two requotes then fills; the second meets three and gives up.
    SimAccount.objects.update(inject_retcodes=[10004, 10020])
    retried = order(account, side="buy", volume=Decimal("0.01"))
    account_drain(account.pk)
    SimAccount.objects.update(inject_retcodes=[10004, 10004, 10004])
    gave_up = order(account, side="buy", volume=Decimal("0.01"))
    account_drain(account.pk)

    retried.refresh_from_db()
    gave_up.refresh_from_db()
    assert retried.status == "filled", retried.status_reason
    assert gave_up.status == "failed" and gave_up.retcode == 10004 and "Requote" in gave_up.status_reason
    assert len(positions(account)) == 1


@pytest.mark.django_db
def test_an_ambiguous_answer_is_checked_before_any_resend(account):
    SimAccount.objects.update(inject_retcodes=[10031])  # "no connection": nothing placed
    checked = order(account, side="buy", volume=Decimal("0.01"))

    account_drain(account.pk)

    checked.refresh_from_db()
    assert checked.status == "filled" and len(positions(account)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "limits", "reason"),
    [
        ({"volume": Decimal("0.004")}, {}, "below BTCUSD's minimum"),
        ({"volume": Decimal("2")}, {"max_lot": Decimal("1")}, "above the account's maximum of 1"),
        ({"volume": Decimal("0.01")}, {"allowed_symbols": ["GOLD"]}, "not among the account's allowed symbols"),
        ({"volume": Decimal("0.01")}, {"max_trades_per_hour": 0}, "limit of 0 trades per hour"),
        ({"volume": Decimal("0.01"), "requested_symbol": "DOGEUSD"}, {}, "DOGEUSD"),
        ({"volume": Decimal("0.01"), "sl": Decimal("999999")}, {}, "Stop loss"),
        ({"volume": Decimal("0.01"), "risk_percent": Decimal("1")}, {}, "needs a stop loss"),
    ],
)
def test_guards_refuse_with_a_clear_reason_and_send_nothing(account, fields, limits, reason):
    TradingAccount.objects.filter(pk=account.pk).update(**limits)
    refused = order(account, side="buy", **fields)

    account_drain(account.pk)

    refused.refresh_from_db()
    assert refused.status == "rejected" and reason in refused.status_reason
    assert positions(account) == []


@pytest.mark.django_db
def test_max_open_positions_guard(account):
    TradingAccount.objects.filter(pk=account.pk).update(max_open_positions=1)
    order(account, side="buy", volume=Decimal("0.01"))
    second = order(account, side="buy", volume=Decimal("0.01"))

    account_drain(account.pk)

    second.refresh_from_db()
    assert second.status == "rejected" and "maximum of 1 open positions" in second.status_reason


@pytest.mark.django_db
def test_risk_sizing_uses_the_balance_and_the_stop(account):
    tick = simulated_driver(account).tick("BTCUSD")
    sized = order(
        account, side="buy", volume=None, risk_percent=Decimal("1"), sl=Decimal(str(round(tick.ask - 1000, 2)))
    )

    account_drain(account.pk)

    sized.refresh_from_db()
    # 1 % of 10,000 is 100 at risk; the stop is 1,000 units away (a tick of 0.01 is worth 0.01 per
    # lot), so 0.1 lots, or 0.09 when the quote ticked up between sizing and filling.
    assert sized.status == "filled" and sized.filled_volume in (Decimal("0.09"), Decimal("0.1"))


@pytest.mark.django_db
def test_closes_name_their_positions_by_ticket_symbol_and_side(account):
    order(account, side="buy", volume=Decimal("0.01"))
    order(account, side="sell", volume=Decimal("0.02"))
    account_drain(account.pk)
    buy_ticket = next(p.ticket for p in positions(account) if p.type == 0)

    by_side = order(account, action="close_symbol", side="sell", volume=None)
    by_ticket = order(account, action="close_ticket", side="", volume=None, position_ticket=buy_ticket)
    nothing = order(account, action="close_all", side="", volume=None)
    missing = order(account, action="close_ticket", side="", volume=None, position_ticket=424242)
    account_drain(account.pk)

    for row in (by_side, by_ticket, nothing, missing):
        row.refresh_from_db()
    assert (by_side.status, by_ticket.status) == ("filled", "filled")
    assert nothing.status == "cancelled" and nothing.status_reason == "Nothing to close."
    assert missing.status == "rejected" and "No open position 424242" in missing.status_reason
    assert positions(account) == []


@pytest.mark.django_db
def test_a_stopped_account_refuses_its_waiting_orders(account):
    TradingAccount.objects.filter(pk=account.pk).update(status="stopped", status_reason="Stopped by its owner.")
    waiting = order(account, side="buy", volume=Decimal("0.01"))

    account_drain(account.pk)

    waiting.refresh_from_db()
    assert waiting.status == "rejected" and "is stopped" in waiting.status_reason


@pytest.mark.django_db
def test_the_sweep_drains_orders_left_behind_itself(account):
    """The agent's sweep does not wait on the queue again: a qcluster whose worker was
    killed while it waited for work takes no task at all (django-q2 issue #23)."""
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    lost = order(account, side="buy", volume=Decimal("0.01"))
    fresh = order(account, side="buy", volume=Decimal("0.01"))
    Order.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert orders_sweep(accounts=TradingAccount.objects.filter(pk=fresh.account_id)) == 2

    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert len(positions(account)) == 2 and broker.queue_size() == 0


@pytest.mark.django_db
def test_the_sweep_leaves_fresh_orders_to_the_queue(account):
    order(account, side="buy", volume=Decimal("0.01"))

    assert orders_sweep(accounts=TradingAccount.objects.all()) == 0
    assert Order.objects.get().status == "queued"


@pytest.mark.django_db
def test_order_execute_skips_an_order_another_worker_claimed(account):
    claimed = order(account, side="buy", volume=Decimal("0.01"))
    Order.objects.filter(pk=claimed.pk).update(status="filled")

    assert order_execute(order=claimed, driver=simulated_driver(account)) == 0
    assert positions(account) == []


@pytest.mark.django_db
def test_a_signal_whose_orders_all_fail_is_marked_unfilled(account):
    from tests.factories import SignalFactory
    from webhooks.models import Signal

    signal = SignalFactory(owner=account.owner)
    order(account, signal=signal, side="buy", volume=Decimal("0.004"))
    filled_signal = SignalFactory(owner=account.owner)
    order(account, signal=filled_signal, side="buy", volume=Decimal("0.01"))

    account_drain(account.pk)

    assert Signal.objects.get(pk=signal.pk).status == "unfilled"
    assert Signal.objects.get(pk=filled_signal.pk).status == "accepted"
