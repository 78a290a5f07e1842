"""The dispatcher's cursor: rows that commit out of id order are not lost, nor raised twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import dispatch
from alerts.models import Alert, Cursor, Kind
from live.models import Event
from terminals.selectors import order_event
from tests.factories import OrderFactory, UserFactory

from .helpers import prefer


def filled_event(owner, pk: int, age_s: float = 0) -> Event:
    order = OrderFactory(owner=owner, account__owner=owner, status="filled")
    return Event.objects.create(pk=pk, owner=owner, kind="order", payload=order_event(order),
                                created_at=timezone.now() - timedelta(seconds=age_s))  # fmt: skip


@pytest.mark.django_db
def test_a_row_committed_late_with_a_smaller_id_is_still_raised(alice):
    prefer(alice, Kind.ORDER_FILLED, in_app=True)
    for pk in range(100, 110):  # heartbeats long ago: no alert, but the cursor moves past them
        Event.objects.create(pk=pk, owner=alice, kind="account", payload={"status": "online"},
                             created_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    filled_event(alice, 120)

    assert dispatch.dispatch() == 1
    assert Cursor.objects.get(name="event").position == 109  # not past the recent row

    filled_event(alice, 115)  # its transaction began before 120's and committed after
    assert dispatch.dispatch() == 1
    assert dispatch.dispatch() == 0  # read again within the grace period, raised once
    assert sorted(Alert.objects.values_list("data__order", flat=True)) == sorted(
        Event.objects.filter(pk__in=[115, 120]).values_list("payload__id", flat=True)
    )

    Event.objects.filter(pk__in=[115, 120]).update(created_at=timezone.now() - timedelta(minutes=2))
    dispatch.dispatch()
    assert Cursor.objects.get(name="event").position == 120


def old_filled_event(owner) -> Event:
    """An order outcome past the grace period: the cursor may move past it once it is handled."""
    order = OrderFactory(owner=owner, account__owner=owner, status="filled", symbol="EURUSD")
    return Event.objects.create(owner=owner, kind="order", payload=order_event(order),
                                created_at=timezone.now() - timedelta(minutes=5))  # fmt: skip


@pytest.fixture
def poisoned(monkeypatch):
    """Raising the alert of the given event rows fails, whatever goes wrong with them."""
    rows: set[int] = set()
    real = dispatch.alert_raise

    def alert_raise(**kwargs):
        if kwargs.get("source", "").rsplit(":", 1)[-1] in {str(pk) for pk in rows}:
            raise RuntimeError("this row cannot be raised")
        return real(**kwargs)

    monkeypatch.setattr(dispatch, "alert_raise", alert_raise)
    return rows


@pytest.mark.django_db
def test_a_row_that_fails_delays_but_never_drops_the_rows_after_it(
    alice, bob, settings, smtp, sync_queue, poisoned, django_capture_on_commit_callbacks
):
    from alerts import tasks
    from terminals.models import TerminalHost

    from .factories import DeliveryFactory

    settings.ALERT_EMAIL = "ops@example.test"
    carol = UserFactory(username="carol")
    for user in (alice, bob, carol):
        prefer(user, Kind.ORDER_FILLED, email=True)
    _, bad, last = old_filled_event(alice), old_filled_event(bob), old_filled_event(carol)
    poisoned.add(bad.pk)
    # The minute task's other work: a host gone offline, a delivery due for its retry.
    TerminalHost.objects.create(name="win-9", queue_name="win-9", online=False,
                                heartbeat_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    due = DeliveryFactory(owner=alice, alert__kind=Kind.PRICE, target=alice.email,
                          next_attempt_at=timezone.now() - timedelta(seconds=1))  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        tasks.every_minute()

    # The traders around the bad row are told; bob's waits, the cursor stops before it.
    assert sorted(Alert.objects.filter(kind=Kind.ORDER_FILLED).values_list("owner__username", flat=True)) == [
        "alice",
        "carol",
    ]
    assert Cursor.objects.get(name="event").position == bad.pk - 1
    recipients = sorted(rcpt[0] for rcpt, _ in smtp.messages)
    assert recipients.count(alice.email) == 2 and carol.email in recipients  # alice's alert and her due retry
    assert Alert.objects.filter(owner=None, title__contains="win-9").exists()
    due.refresh_from_db()
    assert due.status == "sent"

    poisoned.clear()  # whatever failed is mended: the next run raises bob's alert, once
    with django_capture_on_commit_callbacks(execute=True):
        tasks.every_minute()

    assert sorted(Alert.objects.filter(kind=Kind.ORDER_FILLED).values_list("owner__username", flat=True)) == [
        "alice",
        "bob",
        "carol",
    ]
    assert Cursor.objects.get(name="event").position == last.pk


@pytest.mark.django_db
def test_a_row_that_keeps_failing_is_passed_over_and_the_operator_told(alice, bob, poisoned):
    for user in (alice, bob):
        prefer(user, Kind.ORDER_FILLED, in_app=True)
    bad, good = old_filled_event(alice), old_filled_event(bob)
    poisoned.add(bad.pk)

    for _ in range(dispatch.ROW_ATTEMPTS - 1):
        dispatch.dispatch()
        assert Cursor.objects.get(name="event").position == bad.pk - 1
    dispatch.dispatch()

    assert Cursor.objects.get(name="event").position == good.pk
    assert list(Alert.objects.filter(kind=Kind.ORDER_FILLED).values_list("owner", flat=True)) == [bob.pk]
    told = Alert.objects.get(owner=None, kind=Kind.SERVICE)
    assert f"event row {bad.pk}" in told.title and "RuntimeError" in told.text


@pytest.mark.django_db
def test_the_minute_task_checks_hosts_and_retries_deliveries_even_when_reading_a_source_fails(
    alice, settings, smtp, sync_queue, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import OperationalError

    from alerts import tasks
    from terminals.models import TerminalHost

    from .factories import DeliveryFactory

    def unreadable(**kwargs):
        raise OperationalError("the events table cannot be read")

    monkeypatch.setattr(dispatch.selectors, "events_after", unreadable)
    settings.ALERT_EMAIL = "ops@example.test"
    TerminalHost.objects.create(name="win-9", queue_name="win-9", online=False,
                                heartbeat_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    due = DeliveryFactory(owner=alice, alert__kind=Kind.PRICE, target=alice.email,
                          next_attempt_at=timezone.now() - timedelta(seconds=1))  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OperationalError):
        tasks.every_minute()  # the task still fails, for the operator to see

    assert Alert.objects.filter(owner=None, title__contains="win-9").exists()
    due.refresh_from_db()
    assert due.status == "sent"
