"""A Redis or database that is down: a 503 before anything is stored, never a 500 after it,
and orders committed while the queue was down still run (the fault suite found each)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf

from accounts.services import webhook_token_reveal
from mt5saas import queues
from mt5saas.queues import RedisBroker
from terminals.models import Order, TradingAccount
from terminals.orders.queue import NEVER_QUEUED, STALE_QUEUED, orders_sweep
from terminals.services import account_connect
from tests.servers import free_port
from webhooks.models import Signal

BUY = json.dumps({"action": "buy", "symbol": "BTCUSD", "volume": "0.01", "id": "outage-1"})


@pytest.fixture
def dead_redis() -> str:
    """A Redis URL where nothing listens: every connection is refused at once."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def paper(alice):
    return account_connect(owner=alice, login="8910001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.mark.django_db
def test_webhook_meeting_a_redis_that_is_down_is_503_with_retry_after_and_stores_nothing(
    alice, paper, settings, dead_redis
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead_redis}}
    token = webhook_token_reveal(user=alice)

    response = Client().post(f"/webhook/{token}", BUY, content_type="text/plain")

    assert response.status_code == 503
    assert response["Retry-After"] == "5" and "unavailable" in response.json()["detail"]
    assert token not in response.content.decode()
    assert not Signal.objects.exists() and not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_signal_committed_while_the_queue_is_down_is_202_and_the_sweep_runs_it_soon(
    alice, paper, settings, monkeypatch, dead_redis
):
    # A broker outside the database (Redis): tasks are handed over after the orders commit.
    settings.Q_CLUSTER = {key: value for key, value in settings.Q_CLUSTER.items() if key not in ("orm", "poll")}
    monkeypatch.setattr(Conf, "REDIS", dead_redis)
    monkeypatch.setattr(queues, "queue_broker", lambda queue: RedisBroker(list_key=queue))
    token = webhook_token_reveal(user=alice)

    response = Client().post(f"/webhook/{token}", BUY, content_type="text/plain")

    # Before the fix the enqueue's ConnectionError escaped after the commit: a 500 that makes
    # TradingView resend a signal that was already placed.
    assert response.status_code == 202
    order = Order.objects.get(pk=response.json()["orders"][0]["id"])
    assert order.status == "queued" and order.queued_at is None
    accounts = TradingAccount.objects.filter(pk=paper.pk)
    assert orders_sweep(accounts=accounts) == 0  # just stored: the queue may still take it

    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - NEVER_QUEUED - timedelta(seconds=1))
    assert NEVER_QUEUED < STALE_QUEUED
    assert orders_sweep(accounts=accounts) == 1
    order.refresh_from_db()
    assert order.status == "filled"


def test_redis_broker_reports_an_empty_queue_while_redis_is_down(monkeypatch, dead_redis):
    """django-q2's pusher sleeps 10 s after a failed dequeue; this broker keeps it asking."""
    monkeypatch.setattr(Conf, "REDIS", dead_redis)
    monkeypatch.setattr(RedisBroker, "RETRY_S", 0.01)
    broker = RedisBroker(list_key="outage-test")

    assert broker.dequeue() is None
