"""A fan-out's accounts drained a share per task (accounts_drain): each account's own lock,
lease and order of execution, at most once, and an account stopped mid-batch refuses its
orders while the others fill."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from terminals.execution import BATCH, accounts_drain, drain_batches, order_finished, orders_enqueue
from terminals.models import Order, TradingAccount
from terminals.services import account_connect
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
def test_an_account_stopped_mid_batch_refuses_its_orders_and_the_others_fill(accounts, drain_locks):  # noqa: F811
    first, stopped, *rest = accounts
    waiting = {a.pk: order(a, side="buy", volume=Decimal("0.01")) for a in accounts}

    def stop_the_second(sender, *, order, **kwargs):
        if order.account_id == first.pk:
            TradingAccount.objects.filter(pk=stopped.pk).update(
                status=TradingAccount.Status.STOPPED, status_reason="stopped by its owner"
            )

    order_finished.connect(stop_the_second)
    try:
        done = accounts_drain([a.pk for a in accounts])
    finally:
        order_finished.disconnect(stop_the_second)

    statuses = {pk: Order.objects.get(pk=o.pk) for pk, o in waiting.items()}
    assert done == 5
    assert statuses[stopped.pk].status == "rejected" and "stopped by its owner" in statuses[stopped.pk].status_reason
    assert positions(stopped) == []
    assert all(statuses[a.pk].status == "filled" for a in [first, *rest])


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
