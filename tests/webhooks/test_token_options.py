from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import webhook_token_reveal
from terminals.models import Order
from terminals.services import account_connect
from webhooks.models import Signal

ALERT = '{"action": "buy", "symbol": "BTCUSD", "volume": "0.01"}'


@pytest.fixture
def url(alice):
    account_connect(owner=alice, login="8930001", password="pw", server="SimBroker-Demo", kind="simulated")
    return f"/webhook/{webhook_token_reveal(user=alice)}"


def options(client, alice, **checked):
    client.force_login(alice)
    client.post("/settings/webhook-options", {name: "on" for name, on in checked.items() if on})
    client.logout()


@pytest.mark.django_db
def test_identical_bodies_within_ten_seconds_are_one_alert_when_switched_on(client, alice, url):
    first, resent = (client.post(url, ALERT, content_type="text/plain") for _ in range(2))
    assert Order.objects.count() == 2  # off: every body is an alert

    options(client, alice, dedupe_identical_bodies=True)
    first = client.post(url, ALERT, content_type="text/plain")
    resent = client.post(url, ALERT, content_type="text/plain")
    other = client.post(url, ALERT.replace("0.01", "0.02"), content_type="text/plain")

    assert first.status_code == resent.status_code == other.status_code == 202
    assert resent.json() == first.json() and other.json() != first.json()
    assert Order.objects.count() == 4


@pytest.mark.django_db
def test_tradingview_only_refuses_other_senders_and_trusts_only_configured_proxies(client, alice, url, settings):
    options(client, alice, tradingview_only=True)
    settings.TRUSTED_PROXIES = ["10.0.0.5"]

    direct = client.post(url, ALERT, content_type="text/plain", REMOTE_ADDR="52.89.214.238")
    forged = client.post(url, ALERT, content_type="text/plain", REMOTE_ADDR="198.51.100.7",
                         HTTP_X_FORWARDED_FOR="52.89.214.238")  # fmt: skip
    proxied = client.post(url, ALERT, content_type="text/plain", REMOTE_ADDR="10.0.0.5",
                          HTTP_X_FORWARDED_FOR="1.2.3.4, 34.212.75.30")  # fmt: skip
    spoofed_via_proxy = client.post(url, ALERT, content_type="text/plain", REMOTE_ADDR="10.0.0.5",
                                    HTTP_X_FORWARDED_FOR="34.212.75.30, 198.51.100.7")  # fmt: skip

    assert direct.status_code == 202 and proxied.status_code == 202
    assert forged.status_code == 403 and spoofed_via_proxy.status_code == 403
    assert "TradingView's addresses only" in forged.json()["detail"]
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_an_id_repeats_for_24_hours_then_names_a_new_alert(client, url):
    body = '{"action": "buy", "symbol": "BTCUSD", "volume": "0.01", "id": "daily-1"}'
    first = client.post(url, body, content_type="text/plain").json()
    Signal.objects.update(received_at=timezone.now() - timedelta(hours=25))

    later = client.post(url, body, content_type="text/plain").json()

    assert later["signal"] != first["signal"] and Order.objects.count() == 2
