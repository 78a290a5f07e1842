"""A fan-out's accounts drained a share per task (accounts_drain): each account's own lock,
lease and order of execution, at most once, and an account stopped mid-batch refuses its
orders while the others fill."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from terminals import gateway
from terminals.models import Order, TradingAccount
from terminals.orders.drain import accounts_drain
from terminals.orders.queue import BATCH, drain_batches, orders_enqueue, orders_sweep
from terminals.paper.driver import SimulatedDriver
from terminals.services import account_connect
from terminals.signals import orders_finished
from terminals.symbols import symbol_mapping_set
from tests.terminals.clocks import Clock, paper_terminals_on
from tests.terminals.interruptions import connection_drops, paper_terminals_writing_deals, recording_final_states
from tests.terminals.test_execution import drain_locks, drain_running_elsewhere, order, positions  # noqa: F401


@pytest.fixture
def accounts(alice) -> list[TradingAccount]:
    return [
        account_connect(owner=alice, login=str(8_810_000 + n), password="pw", server="SimBroker-Demo", kind="simulated")
        for n in range(5)
    ]


def test_a_queue_gets_a_task_per_worker_and_none_larger_than_a_batch():
    ids = list(range(1, 61))

    assert drain_batches([7], workers=2) == [[7]]
    assert drain_batches([7, 8], workers=2) == [[7], [8]]
    assert drain_batches([1, 2, 3, 4, 5], workers=2) == [[1, 3, 5], [2, 4]]
    assert drain_batches([1, 2, 3, 4, 5], workers=1, size=100) == [[1, 2, 3, 4, 5]]
    sixty = drain_batches(ids, workers=2)
    assert len(sixty) == 3 and max(len(b) for b in sixty) <= BATCH
    assert sorted(i for batch in sixty for i in batch) == ids


@pytest.mark.django_db(transaction=True)
def test_a_fan_out_enqueues_drains_that_cover_each_account_once(accounts):
    broker = get_broker()
    broker.purge_queue()
    with transaction.atomic():
        made = [order(a, side="buy", volume=Decimal("0.01")) for a in accounts for _ in range(2)]
        orders_enqueue(orders=list(Order.objects.filter(pk__in=[o.pk for o in made]).select_related("account")))
    tasks = []
    while broker.queue_size():
        tasks += [SignedPackage.loads(payload) for _, payload in broker.dequeue()]

    # One drain on SQLite (its one writer), one per worker elsewhere.
    sizes = [5] if connection.vendor == "sqlite" else [2, 3]
    assert {t["func"] for t in tasks} == {"terminals.tasks.accounts_drain"}
    assert sorted(len(t["args"][0]) for t in tasks) == sizes
    drained = sorted(account_id for t in tasks for account_id in t["args"][0])
    assert drained == sorted(a.pk for a in accounts)
    for task in tasks:
        accounts_drain(task["args"][0])
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert [len(positions(a)) for a in accounts] == [2] * 5


@pytest.mark.django_db
def test_a_batch_fills_each_account_in_its_order_once_and_a_redelivery_sends_nothing(accounts, drain_locks):  # noqa: F811
    made = {a.pk: [order(a, side="buy", volume=Decimal(v)) for v in ("0.01", "0.02")] for a in accounts}

    assert accounts_drain([a.pk for a in accounts]) == 10
    assert accounts_drain([a.pk for a in accounts]) == 0
    for account in accounts:
        first, second = (Order.objects.get(pk=o.pk) for o in made[account.pk])
        assert first.status == second.status == "filled" and first.done_at <= second.sent_at
        assert [p.volume for p in positions(account)] == [0.01, 0.02]


@pytest.mark.django_db
def test_an_account_stopped_mid_batch_refuses_its_waiting_orders_and_the_others_fill(accounts, drain_locks):  # noqa: F811
    first, stopped, *rest = accounts
    heads = {a.pk: order(a, side="buy", volume=Decimal("0.01")) for a in accounts}
    later = {a.pk: order(a, side="buy", volume=Decimal("0.02")) for a in accounts}

    def stop_the_second(sender, *, orders, **kwargs):
        if any(o.account_id == first.pk for o in orders):
            TradingAccount.objects.filter(pk=stopped.pk).update(
                status=TradingAccount.Status.STOPPED, status_reason="stopped by its owner"
            )

    orders_finished.connect(stop_the_second)
    try:
        done = accounts_drain([a.pk for a in accounts])
    finally:
        orders_finished.disconnect(stop_the_second)

    refused = Order.objects.get(pk=later[stopped.pk].pk)
    assert done == 10
    # Its first order was on its way when the account stopped; the one after it is refused.
    assert Order.objects.get(pk=heads[stopped.pk].pk).status == "filled"
    assert refused.status == "rejected" and "stopped by its owner" in refused.status_reason
    assert [p.volume for p in positions(stopped)] == [0.01]
    others = [heads[a.pk].pk for a in [first, *rest]] + [later[a.pk].pk for a in [first, *rest]]
    assert set(Order.objects.filter(pk__in=others).values_list("status", flat=True)) == {"filled"}


@pytest.mark.django_db
def test_an_account_another_drain_holds_is_left_to_it_and_the_batch_goes_on(accounts, drain_locks):  # noqa: F811
    held, *others = accounts
    for account in accounts:
        order(account, side="buy", volume=Decimal("0.01"))

    with drain_running_elsewhere(held):
        done = accounts_drain([a.pk for a in accounts])

    assert done == 4
    assert Order.objects.get(account=held).status == "queued" and positions(held) == []
    assert {o.status for o in Order.objects.filter(account__in=others)} == {"filled"}


@pytest.fixture
def many(alice) -> list[TradingAccount]:
    return [
        account_connect(owner=alice, login=str(8_820_000 + n), password="pw", server="SimBroker-Demo", kind="simulated")
        for n in range(20)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_round_claims_every_first_order_before_any_terminal_is_called_and_records_them_in_few_statements(
    many,
    drain_locks,  # noqa: F811
    monkeypatch,
):
    waiting = [order(a, side="buy", volume=Decimal("0.01")) for a in many]
    seen = []
    send = SimulatedDriver.order_send_many

    def watched(sends):
        # What another process sees as the terminals are called: every order of the round committed as sending.
        seen.append((len(sends), connection.in_atomic_block, Order.objects.filter(status="sending").count()))
        return send(sends)

    monkeypatch.setattr(SimulatedDriver, "order_send_many", staticmethod(watched))
    with CaptureQueriesContext(connection) as queries:
        done = accounts_drain([a.pk for a in many])

    assert done == 20 and seen == [(20, False, 20)]
    assert set(Order.objects.filter(pk__in=[o.pk for o in waiting]).values_list("status", flat=True)) == {"filled"}
    assert all(len(positions(a)) == 1 for a in many)
    # A few statements for the whole round, the paper terminals' sends included (8 an order when
    # each terminal took its own, 34 an order with its bookkeeping when each order went alone).
    ours = [q["sql"][:60] for q in queries.captured_queries if "COUNT(*)" not in q["sql"]]  # less watched()'s
    assert len(ours) <= 35, sorted(ours)


@pytest.mark.django_db
def test_a_round_keeps_each_accounts_guards(accounts, drain_locks):  # noqa: F811
    limited, mapped, *rest = accounts
    TradingAccount.objects.filter(pk=limited.pk).update(max_trades_per_hour=1)
    earlier = order(limited, side="buy", volume=Decimal("0.01"))
    Order.objects.filter(pk=earlier.pk).update(status="filled", sent_at=timezone.now() - timedelta(minutes=10))
    symbol_mapping_set(account=mapped, requested="BITCOIN", broker_symbol="BTCUSD")
    refused = order(limited, side="buy", volume=Decimal("0.01"))
    renamed = order(mapped, side="buy", volume=Decimal("0.01"), requested_symbol="BITCOIN")
    others = [order(a, side="buy", volume=Decimal("0.01")) for a in rest]

    assert accounts_drain([a.pk for a in accounts]) == 5

    refused.refresh_from_db()
    renamed.refresh_from_db()
    assert refused.status == "rejected" and "limit of 1 trades per hour" in refused.status_reason
    assert renamed.status == "filled" and renamed.symbol == "BTCUSD"
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in others])} == {"filled"}


@pytest.mark.parametrize("cut, found", [("terminals", 0), ("records", 5)])
@pytest.mark.django_db
def test_a_round_cut_short_leaves_nothing_lost_or_sent_twice(cut, found, accounts, drain_locks):  # noqa: F811
    """Cut as the paper terminals write (one transaction: none of them took its order), or
    after they took the orders and before their states were recorded (each is found there)."""
    waiting = [order(a, side="buy", volume=Decimal("0.01")) for a in accounts]
    interrupted = order(accounts[0], side="buy", volume=Decimal("0.02"))  # after the first, left `sending`
    Order.objects.filter(pk=interrupted.pk).update(status="sending", sent_at=timezone.now(), attempts=1)

    if cut == "terminals":
        drop = connection_drops(paper_terminals_writing_deals, after=True)
    else:
        drop = connection_drops(recording_final_states)
    with drop as died:
        accounts_drain([a.pk for a in accounts])
    orders_sweep(accounts=TradingAccount.objects.all())

    statuses = {o.pk: o for o in Order.objects.filter(pk__in=[o.pk for o in [*waiting, interrupted]])}
    assert died and {o.status for o in statuses.values()} == {"filled"}
    assert sum("Found on the terminal" in o.status_reason for o in statuses.values()) == found
    assert [[p.volume for p in positions(a)] for a in accounts] == [[0.01, 0.02]] + [[0.01]] * 4


@pytest.mark.django_db
def test_an_order_recorded_elsewhere_during_a_round_keeps_that_record_and_the_others_are_written(
    accounts,
    drain_locks,  # noqa: F811
    monkeypatch,
):
    waiting = {a.pk: order(a, side="buy", volume=Decimal("0.01")) for a in accounts}
    other = waiting[accounts[2].pk]
    send = SimulatedDriver.order_send_many

    def recorded_elsewhere(sends):
        results = send(sends)
        Order.objects.filter(pk=other.pk).update(status="failed", status_reason="recorded by another drain")
        return results

    monkeypatch.setattr(SimulatedDriver, "order_send_many", staticmethod(recorded_elsewhere))
    assert accounts_drain([a.pk for a in accounts]) == 5

    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in waiting.values()]).values_list("pk", "status_reason"))
    assert statuses.pop(other.pk) == "recorded by another drain"
    assert set(Order.objects.filter(pk__in=statuses).values_list("status", flat=True)) == {"filled"}


@pytest.mark.django_db
def test_a_round_sends_its_market_orders_at_the_quote_of_the_send_not_of_their_preparation(
    accounts,
    drain_locks,  # noqa: F811
    monkeypatch,
):
    clock = paper_terminals_on(Clock(), monkeypatch)
    symbols = SimulatedDriver.symbols

    def slow_preparation(driver):
        clock.at += 60_000  # a long round: the market moves past the deviation as each order is prepared
        return symbols(driver)

    calls, send = [], SimulatedDriver.order_send_many

    def counted(sends):
        calls.append(len(sends))
        return send(sends)

    monkeypatch.setattr(SimulatedDriver, "symbols", slow_preparation)
    monkeypatch.setattr(SimulatedDriver, "order_send_many", staticmethod(counted))
    waiting = [order(a, side="buy", volume=Decimal("0.01")) for a in accounts]

    assert accounts_drain([a.pk for a in accounts]) == 5

    # One call, no requote to retry: each went at the ask of the moment it was sent.
    assert calls == [5]
    ask = gateway.simulated_driver(accounts[0]).tick("BTCUSD").ask
    filled = Order.objects.filter(pk__in=[o.pk for o in waiting])
    assert {(o.status, o.fill_price) for o in filled} == {("filled", Decimal(str(ask)))}
