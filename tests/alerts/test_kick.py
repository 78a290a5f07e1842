"""The dispatcher starts within about a second of an alertable event, from the publishing process."""

import threading
import time

import pytest
from django.db import OperationalError

from alerts.models import Alert, Kind
from mt5saas.events import publish_to_user
from terminals.execution import order_event
from tests.factories import OrderFactory, UserFactory

from .helpers import prefer


def wait_for_alert(owner, timeout: float = 10) -> Alert | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (alert := Alert.objects.filter(owner=owner).first()) is not None:
                return alert
        except OperationalError:  # SQLite's shared cache: the kick's thread is writing
            pass
        time.sleep(0.1)
    return None


@pytest.mark.django_db(transaction=True)
def test_a_filled_order_starts_the_dispatcher_without_waiting_for_the_schedule(settings, sync_queue, monkeypatch):
    from alerts import kick

    settings.ALERTS_KICK = True
    kicked, real_kick = threading.Event(), kick._Kicker._kick
    # The dispatch runs on the kicker's thread: the test ends (and empties the database) after it.
    monkeypatch.setattr(kick._Kicker, "_kick", staticmethod(lambda owners: (real_kick(owners), kicked.set())))
    trader = UserFactory()
    prefer(trader, Kind.ORDER_FILLED, in_app=True)
    order = OrderFactory(owner=trader, account__owner=trader, status="filled")

    publish_to_user(trader.pk, "order", order_event(order))  # outside a transaction: "after commit" is now

    alert = wait_for_alert(trader)
    assert alert is not None and alert.kind == Kind.ORDER_FILLED
    assert kicked.wait(10)


@pytest.mark.django_db(transaction=True)
def test_events_of_traders_without_preferences_start_nothing(settings, sync_queue, monkeypatch):
    from alerts import dispatch

    settings.ALERTS_KICK = True
    runs = []
    monkeypatch.setattr(dispatch, "dispatch", lambda: runs.append(1) or 0)
    trader = UserFactory()
    order = OrderFactory(owner=trader, account__owner=trader, status="filled")
    publish_to_user(trader.pk, "order", order_event(order))
    time.sleep(settings.ALERTS_KICK_DELAY_S + 1)
    assert runs == []
