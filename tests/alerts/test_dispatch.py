"""The dispatcher's cursor: rows that commit out of id order are not lost, nor raised twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import dispatch
from alerts.models import Alert, Cursor, Kind
from live.models import Event
from terminals.execution import order_event
from tests.factories import OrderFactory

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
