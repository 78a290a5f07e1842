"""Outbound webhooks: retries with backoff, giving up, refused targets, bounded failures."""

import json
import socket
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Delivery, Endpoint, Kind
from alerts.services import alert_raise, deliveries_retry_due, delivery_attempt

from .helpers import add_endpoint, prefer


def raise_one(user, title="Order filled: BUY 0.01 XAUUSD", **kwargs):
    return alert_raise(owner=user, kind=Kind.ORDER_FILLED, title=title, text="It filled.", **kwargs)


def only_delivery(user) -> Delivery:
    return Delivery.objects.owned_by(user).get()


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_failing_receiver_is_retried_with_growing_jittered_delays_then_succeeds(
    alice, receiver, sync_queue, django_capture_on_commit_callbacks
):
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    receiver.script = [500, 503, 200]
    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice)
    delivery = only_delivery(alice)
    delays = []
    for expected in ("failed", "failed"):
        delivery.refresh_from_db()
        assert delivery.status == expected and delivery.last_error.startswith("HTTP 5")
        delays.append((delivery.next_attempt_at - delivery.updated_at).total_seconds())
        assert deliveries_retry_due() == 0  # not due yet
        make_due(delivery)
        with django_capture_on_commit_callbacks(execute=True):
            assert deliveries_retry_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 3 and delivery.sent_at is not None
    assert len(receiver.requests) == 3
    assert 48 <= delays[0] <= 72 and 192 <= delays[1] <= 288  # 1 min, then 4 min, ±20 %


@pytest.mark.django_db
def test_a_receiver_that_keeps_failing_is_given_up_with_its_last_error(alice, receiver, settings, sync_queue,
                                                                       django_capture_on_commit_callbacks):  # fmt: skip
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    receiver.script = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice)
    delivery = only_delivery(alice)
    for _ in range(settings.ALERTS_MAX_ATTEMPTS - 1):
        make_due(delivery)
        with django_capture_on_commit_callbacks(execute=True):
            deliveries_retry_due()

    delivery.refresh_from_db()
    assert delivery.status == "gave_up" and delivery.attempts == 5
    assert delivery.last_error == "HTTP 500 from the receiver"
    assert delivery.next_attempt_at is None and len(receiver.requests) == 5
    assert services.retry_delay(4).total_seconds() <= settings.ALERTS_RETRY_CAP_S * 1.2

    # By hand, from the delivery log: one more attempt, which now succeeds.
    receiver.script = []
    client = Client()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/alerts/deliveries/{delivery.pk}/retry").status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.requests) == 6


@pytest.mark.django_db
def test_hanging_receiver_times_out_and_huge_answer_is_cut(alice, receiver, settings, sync_queue,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    settings.ALERTS_WEBHOOK_TIMEOUT_S = 0.5
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    receiver.script = ["hang", "huge"]
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice, source="one")
    assert time.monotonic() - started < 2.5
    first = only_delivery(alice)
    assert first.status == "failed" and "timed out" in first.last_error

    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice, title="another", source="two")
    second = Delivery.objects.owned_by(alice).latest("pk")
    # 2xx with a 50 MB body: sent, and only the first 64 kB were read.
    assert second.status == "sent"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.test/x", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("http://127.0.0.1:8000/admin", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://localhost:9/", "loopback"),
        ("http://10.0.0.8/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "private or reserved"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://100.100.100.200/", "metadata"),
        ("https://example.test/" + "a" * 5000, "longer than 2000"),
        ("http://example.test/a b", "spaces or control"),
        ("http://example.test/\r\nX-Injected: 1", "spaces or control"),
        ("http://user:pw@example.test/", "credentials"),
        ("not-a-url", "Only http"),
    ],
)
@pytest.mark.django_db
def test_refused_webhook_urls_get_a_clear_message_and_nothing_is_saved(alice, url, message):
    client = Client()
    client.force_login(alice)
    response = client.post("/alerts/endpoints", {"name": "x", "url": url, "style": "generic"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Endpoint.objects.exists()


@pytest.fixture
def dns(monkeypatch):
    """A stand-in resolver: names of example.test resolve to what the test says (the suite
    has no real DNS, and a rebinding name needs two answers)."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.django_db
def test_a_name_resolving_to_a_private_address_is_refused(alice, dns):
    dns["intranet.example.test"] = "10.1.2.3"
    client = Client()
    client.force_login(alice)
    response = client.post("/alerts/endpoints", {"url": "https://intranet.example.test/hook", "style": "generic"})
    assert response.status_code == 400 and "private" in response.content.decode()


@pytest.mark.django_db
def test_dns_rebinding_to_loopback_is_refused_at_send_time_before_connecting(
    alice, receiver, settings, dns, sync_queue, django_capture_on_commit_callbacks
):
    port = receiver.server.server_address[1]
    dns["rebind.example.test"] = "93.184.216.34"  # public when the trader saves it
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    endpoint, _ = add_endpoint(alice, f"http://rebind.example.test:{port}/hook")
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    dns["rebind.example.test"] = "127.0.0.1"  # and the receiver's address when the alert is sent

    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice)

    delivery = only_delivery(alice)
    assert delivery.status == "gave_up" and "loopback" in delivery.last_error
    assert receiver.requests == []  # refused before any connection


@pytest.mark.django_db
def test_alert_text_cannot_add_headers_to_a_webhook_request(alice, receiver, sync_queue,
                                                            django_capture_on_commit_callbacks):  # fmt: skip
    endpoint, _ = add_endpoint(alice, receiver.url, style="discord")
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    with django_capture_on_commit_callbacks(execute=True):
        raise_one(alice, title="Filled\r\nX-Injected: yes\r\n\r\nsmuggled")

    (request,) = receiver.requests
    assert "X-Injected" not in request.headers
    body = json.loads(request.body)
    assert "X-Injected: yes" in body["content"] and body["allowed_mentions"] == {"parse": []}
    assert set(request.headers) >= {"X-Mt5saas-Signature", "X-Mt5saas-Timestamp", "Content-Type"}


@pytest.mark.parametrize("style", ["slack", "telegram", "generic"])
@pytest.mark.django_db
def test_each_body_style_is_json_the_service_accepts(alice, receiver, style, sync_queue,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    endpoint, _ = add_endpoint(alice, receiver.url, style=style)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_one(alice)
    body = json.loads(receiver.requests[0].body)
    key = {"slack": "text", "telegram": "text", "generic": "title"}[style]
    assert alert.title in body[key]
    # The receiver's credential in the URL's query is sent, never shown.
    assert receiver.requests[0].path.endswith("key=receiver-credential")
    assert "receiver-credential" not in only_delivery(alice).target


@pytest.mark.django_db
def test_a_deleted_endpoint_gives_up_its_pending_delivery(alice, receiver, sync_queue):
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    raise_one(alice)  # its task waits for a commit that a test transaction never makes
    endpoint.delete()
    delivery_attempt(delivery_id=only_delivery(alice).pk)
    delivery = only_delivery(alice)
    assert delivery.status == "gave_up" and "deleted" in delivery.last_error
    assert Alert.objects.count() == 1


@pytest.mark.django_db
def test_a_delivery_left_sending_by_a_dead_worker_is_tried_again(alice, receiver, sync_queue,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    endpoint, _ = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, endpoints=[endpoint])
    raise_one(alice)  # not committed: its task never runs, as if the worker died while sending
    stuck = only_delivery(alice)
    Delivery.objects.filter(pk=stuck.pk).update(status="sending", attempts=1,
                                                updated_at=timezone.now() - timedelta(hours=1))  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_retry_due() == 1

    stuck.refresh_from_db()
    assert stuck.status == "sent" and stuck.attempts == 2 and len(receiver.requests) == 1
