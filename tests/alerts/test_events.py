"""Each event kind, recorded by the app that owns it, reaches the trader's channels."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import webhook_token_reveal
from alerts import dispatch
from alerts.messages import signature_valid
from alerts.models import TRADER_KINDS, Alert, Delivery, Kind
from copytrading.services import pair_create
from live.models import Event
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.models import TerminalHost
from terminals.orders.drain import account_drain
from terminals.services import account_connect, account_heartbeat, hosts_mark_stale
from tests.factories import TradingAccountFactory, UserFactory

from .helpers import add_endpoint, prefer, run_dispatch


@pytest.fixture
def paper(alice):
    return account_connect(owner=alice, login="8900001", password="pw", server="SimBroker-Demo", kind="simulated")


def send_signal(user, body) -> dict:
    token = webhook_token_reveal(user=user)
    return Client().post(f"/webhook/{token}", json.dumps(body), content_type="text/plain")


@pytest.mark.django_db
def test_filled_order_is_emailed_and_posted_signed(alice, paper, smtp, receiver, sync_queue,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    endpoint, secret = add_endpoint(alice, receiver.url)
    prefer(alice, Kind.ORDER_FILLED, in_app=True, email=True, endpoints=[endpoint])
    with django_capture_on_commit_callbacks(execute=True):
        response = send_signal(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
    assert response.status_code == 202
    account_drain(paper.pk)

    assert run_dispatch(django_capture_on_commit_callbacks) == 1

    alert = Alert.objects.get(owner=alice, kind=Kind.ORDER_FILLED)
    assert "BUY 0.01 BTCUSD" in alert.title and paper.login in alert.title
    ((rcpt, message),) = smtp.messages
    assert rcpt == [alice.email] and message["Subject"].startswith("[mt5saas] Order filled")
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["kind"] == "order_filled" and body["data"]["account"] == paper.pk
    assert signature_valid(secret, request.headers["X-Mt5saas-Timestamp"], request.body,
                           request.headers["X-Mt5saas-Signature"])  # fmt: skip
    assert not signature_valid(secret, request.headers["X-Mt5saas-Timestamp"], request.body + b" ",
                               request.headers["X-Mt5saas-Signature"])  # fmt: skip
    assert set(Delivery.objects.owned_by(alice).values_list("status", flat=True)) == {"sent"}
    # In the app: an "alert" event on the trader's live stream.
    assert Event.objects.filter(owner=alice, kind="alert", payload__id=alert.pk).exists()
    # Read again (the next run, inside the grace period): nothing is raised twice.
    assert run_dispatch(django_capture_on_commit_callbacks) == 0


@pytest.mark.django_db
def test_rejected_order_says_why_and_what_to_do(alice, paper, smtp, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.ORDER_FAILED, email=True)
    with django_capture_on_commit_callbacks(execute=True):
        send_signal(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01", "stop_loss": 9999999})
    account_drain(paper.pk)

    run_dispatch(django_capture_on_commit_callbacks)

    alert = Alert.objects.get(owner=alice, kind=Kind.ORDER_FAILED)
    assert alert.title == f"Order rejected: BUY 0.01 BTCUSD on account {paper.login}"
    assert "Stop loss 9999999.00 is above the buy price" in alert.text and "risk limits" in alert.text
    ((_, message),) = smtp.messages
    assert "Check the symbol" in message.get_content()


@pytest.mark.django_db
def test_close_orders_raise_their_alerts(alice, paper, smtp, sync_queue, django_capture_on_commit_callbacks):
    # A close carries no volume of its own: its alert names what it closed.
    prefer(alice, Kind.ORDER_FILLED, email=True)
    for body in ({"action": "buy", "symbol": "BTCUSD", "volume": "0.01"}, {"action": "close", "symbol": "BTCUSD"},
                 {"action": "buy", "symbol": "BTCUSD", "volume": "0.02"}, {"action": "close_all"}):  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert send_signal(alice, body).status_code == 202
        account_drain(paper.pk)

    assert run_dispatch(django_capture_on_commit_callbacks) == 4

    alerts = Alert.objects.filter(owner=alice, kind=Kind.ORDER_FILLED).order_by("pk")
    titles = list(alerts.values_list("title", flat=True))
    where = f"on account {paper.login}"
    assert titles == [f"Order filled: BUY 0.01 BTCUSD {where}", f"Order filled: CLOSE BTCUSD {where}",
                      f"Order filled: BUY 0.02 BTCUSD {where}", f"Order filled: CLOSE ALL {where}"]  # fmt: skip
    assert len(smtp.messages) == 4
    assert "None" not in "".join(Alert.objects.values_list("text", flat=True))


@pytest.mark.django_db
def test_refused_signal_alerts_its_owner_without_echoing_the_token(alice, smtp, sync_queue,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    prefer(alice, Kind.SIGNAL_REJECTED, email=True)
    token = webhook_token_reveal(user=alice)
    response = Client().post("/webhook/", json.dumps({"token": token, "action": "jump", "symbol": "XAUUSD"}),
                             content_type="application/json")  # fmt: skip
    assert response.status_code == 400

    run_dispatch(django_capture_on_commit_callbacks)

    alert = Alert.objects.get(owner=alice, kind=Kind.SIGNAL_REJECTED)
    assert "action" in alert.text and "TradingView" in alert.text
    ((_, message),) = smtp.messages
    assert token not in message.as_string() and token not in json.dumps(alert.data)


@pytest.mark.django_db
def test_account_offline_and_online_are_alerted_and_repeats_coalesce(alice, paper, smtp, sync_queue,
                                                                     django_capture_on_commit_callbacks):  # fmt: skip
    prefer(alice, Kind.ACCOUNT_STATUS, email=True)
    driver = open_driver(paper)
    for _ in range(3):  # flapping: offline, online, offline, online, …
        account_heartbeat(account=paper, info=None, error="No connection to the trade server")
        account_heartbeat(account=paper, info=driver.account_info())

    run_dispatch(django_capture_on_commit_callbacks)

    offline = Alert.objects.get(owner=alice, kind=Kind.ACCOUNT_STATUS, title__contains="offline")
    assert offline.repeats == 2 and "No connection to the trade server" in offline.text
    assert Alert.objects.filter(owner=alice, kind=Kind.ACCOUNT_STATUS).count() == 2  # one offline, one online
    assert len(smtp.messages) == 2


@pytest.mark.django_db
def test_host_offline_alerts_its_traders_and_the_operator(alice, settings, smtp, sync_queue,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    settings.ALERT_EMAIL = "ops@example.test"
    host = TerminalHost.objects.create(name="win-7", queue_name="win-7", online=True,
                                       heartbeat_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    account = TradingAccountFactory(owner=alice, host=host, status="online")
    someone = UserFactory()
    TradingAccountFactory(owner=someone, host=host, status="online")
    prefer(someone)  # wants no alerts at all
    prefer(alice, Kind.HOST_OFFLINE, email=True)
    hosts_mark_stale(interval=timedelta(seconds=5))

    run_dispatch(django_capture_on_commit_callbacks)
    run_dispatch(django_capture_on_commit_callbacks)  # the same outage is told once

    assert Alert.objects.get(owner=alice, kind=Kind.HOST_OFFLINE).text.count(account.login) == 1
    recipients = sorted(rcpt[0] for rcpt, _ in smtp.messages)
    assert recipients == sorted([alice.email, "ops@example.test"])
    operator_mail = next(m for rcpt, m in smtp.messages if rcpt == ["ops@example.test"])
    assert "win-7" in operator_mail["Subject"]


@pytest.mark.django_db
def test_copy_error_reaches_the_trader(alice, smtp, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.COPY_ERROR, email=True)
    master = account_connect(owner=alice, login="7300001", password="pw", server="SimStandard-Demo", kind="simulated")
    # SimBroker lists no ETHUSD: the only slave cannot copy the master's trade.
    slave = account_connect(owner=alice, login="7300002", password="pw", server="SimBroker-Demo", kind="simulated")
    _, key = pair_create(owner=alice, master=master, slave=slave)
    body = {"api_key": key, "account": master.login, "event": "deal_add", "order_id": "1", "symbol": "ETHUSD",
            "type": "BUY", "volume": 0.1}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        reply = Client().post("/api/copy/trade", json.dumps(body), content_type="application/json")
    assert reply.status_code == 200

    run_dispatch(django_capture_on_commit_callbacks)

    alert = Alert.objects.get(owner=alice, kind=Kind.COPY_ERROR)
    assert "ETHUSD" in alert.text and "symbol map" in alert.text
    ((rcpt, message),) = smtp.messages
    assert rcpt == [alice.email] and "ETHUSD" in message.get_content()


@pytest.mark.django_db
def test_daily_summary_is_sent_once_a_day(alice, paper, smtp, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.DAILY_SUMMARY, email=True)
    with django_capture_on_commit_callbacks(execute=True):
        send_signal(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
        send_signal(alice, {"action": "nope"})
    account_drain(paper.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.daily_summaries() == 1
        assert dispatch.daily_summaries() == 0

    alert = Alert.objects.get(owner=alice, kind=Kind.DAILY_SUMMARY)
    assert "2 signal(s) received, 1 refused" in alert.text and "1 order(s) filled" in alert.text
    assert paper.login in alert.text
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_every_kind_switched_off_no_alerts(alice, paper, smtp, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice)
    with django_capture_on_commit_callbacks(execute=True):
        send_signal(alice, {"action": "buy", "symbol": "BTCUSD", "volume": "0.01"})
    account_drain(paper.pk)

    assert run_dispatch(django_capture_on_commit_callbacks) == 0
    assert not Alert.objects.exists() and not smtp.messages


@pytest.mark.django_db
def test_health_checks_and_refused_credentials_never_alert(alice, settings, smtp, sync_queue,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    settings.ALERT_EMAIL = "ops@example.test"
    prefer(alice, *TRADER_KINDS, email=True)
    client = Client(REMOTE_ADDR="127.0.0.1")
    client.get("/health")
    client.get("/webhook/health")
    assert client.post("/webhook/whk_not-a-token", "{}", content_type="text/plain").status_code == 404
    assert client.post("/api/copy/trade", "{}", content_type="application/json",
                       headers={"X-API-Key": "wrong"}).status_code in (400, 401)  # fmt: skip

    run_dispatch(django_capture_on_commit_callbacks)

    assert not Alert.objects.exists() and not smtp.messages


@pytest.mark.django_db
def test_operator_is_told_when_a_host_agent_starts(settings, smtp, sync_queue, django_capture_on_commit_callbacks):
    from alerts import services
    from terminals.services import simulated_host

    settings.ALERT_EMAIL = "ops@example.test"
    services._agents_started.clear()
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()
        agent.tick()

    ((rcpt, message),) = smtp.messages
    assert rcpt == ["ops@example.test"] and "started" in message["Subject"]


@pytest.mark.django_db
def test_error_rate_spike_is_told_to_the_operator_once(settings, smtp, sync_queue, django_capture_on_commit_callbacks):
    from tests.factories import OrderFactory

    settings.ALERT_EMAIL = "ops@example.test"
    done = timezone.now()
    for n in range(24):
        OrderFactory(status="rejected" if n % 4 else "filled", done_at=done)

    run_dispatch(django_capture_on_commit_callbacks)
    run_dispatch(django_capture_on_commit_callbacks)

    ((rcpt, message),) = smtp.messages
    assert rcpt == ["ops@example.test"] and "18 of 24 orders failed" in message["Subject"]


@pytest.mark.django_db
def test_without_alert_email_operator_alerts_are_kept_for_the_admin(settings, smtp, sync_queue,
                                                                    django_capture_on_commit_callbacks):  # fmt: skip
    from alerts.services import operator_alert

    settings.ALERT_EMAIL = ""
    with django_capture_on_commit_callbacks(execute=True):
        alert = operator_alert(title="mt5saas started on host sim", text="Started.")
    assert alert.owner is None and not alert.deliveries.exists() and not smtp.messages
