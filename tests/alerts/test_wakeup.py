"""The dispatcher starts within about a second of an alertable event, from the publishing process."""

import json
import threading
import time

import pytest
from django.db import OperationalError
from django.test import Client

from accounts.services import webhook_token_reveal
from alerts import queue
from alerts.models import Alert, Kind
from live.models import Event
from mt5saas.events import publish_to_user
from terminals.selectors import order_event
from tests.factories import OrderFactory, UserFactory

from .helpers import prefer


def wait_for_alert(owner, timeout: float = 10) -> Alert | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (alert := Alert.objects.filter(owner=owner).first()) is not None:
                return alert
        except OperationalError:  # SQLite's shared cache: the wake-up thread is writing
            pass
        time.sleep(0.1)
    return None


@pytest.fixture
def woken(settings, sync_queue, monkeypatch) -> threading.Event:
    """Wake-ups on; set once a wake-up's dispatch is done. It runs on the wake-up thread: a
    test waits for it before it ends (and the database is emptied under that thread)."""
    settings.ALERTS_KICK = True
    done, real_enqueue = threading.Event(), queue.dispatch_enqueue
    monkeypatch.setattr(queue, "dispatch_enqueue", lambda: (real_enqueue(), done.set()))
    return done


@pytest.mark.django_db(transaction=True)
def test_a_filled_order_starts_the_dispatcher_without_waiting_for_the_schedule(woken):
    trader = UserFactory()
    prefer(trader, Kind.ORDER_FILLED, in_app=True)
    order = OrderFactory(owner=trader, account__owner=trader, status="filled")

    publish_to_user(trader.pk, "order", order_event(order))  # outside a transaction: "after commit" is now

    alert = wait_for_alert(trader)
    assert alert is not None and alert.kind == Kind.ORDER_FILLED
    assert woken.wait(10)


@pytest.mark.django_db(transaction=True)
def test_a_refused_signal_reaches_the_live_stream_and_starts_the_dispatcher(woken):
    trader = UserFactory()
    prefer(trader, Kind.SIGNAL_REJECTED, in_app=True)
    body = {"token": webhook_token_reveal(user=trader), "action": "jump", "symbol": "XAUUSD"}

    response = Client().post("/webhook/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    alert = wait_for_alert(trader)
    assert alert is not None and alert.kind == Kind.SIGNAL_REJECTED
    assert woken.wait(10)
    (event,) = Event.objects.filter(owner=trader, kind="signal")
    assert event.payload["status"] == "refused" and "action" in event.payload["errors"]
    assert body["token"] not in json.dumps(event.payload)


@pytest.mark.django_db(transaction=True)
def test_events_of_traders_who_want_no_alerts_start_nothing(settings, sync_queue, monkeypatch):
    from alerts import dispatch

    settings.ALERTS_KICK = True
    runs = []
    monkeypatch.setattr(dispatch, "dispatch", lambda: runs.append(1) or 0)
    trader = UserFactory()
    prefer(trader)  # every kind switched off
    order = OrderFactory(owner=trader, account__owner=trader, status="filled")
    publish_to_user(trader.pk, "order", order_event(order))
    time.sleep(settings.ALERTS_KICK_DELAY_S + 1)
    assert runs == []
