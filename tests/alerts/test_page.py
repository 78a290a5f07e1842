"""The Alerts page: preferences, endpoints (secret shown once), price alerts, the delivery log."""

from decimal import Decimal

import pytest
from django.test import Client

from alerts.models import Alert, Endpoint, Kind, Preference, PriceAlert
from alerts.services import alert_raise
from terminals.services import account_connect
from tests.factories import TradingAccountFactory

from .factories import DeliveryFactory, EndpointFactory
from .helpers import add_endpoint, prefer


@pytest.fixture
def paper(alice):
    return account_connect(owner=alice, login="8900001", password="pw", server="SimBroker-Demo", kind="simulated")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_trader_saves_where_each_kind_goes(alice, bob):
    mine = EndpointFactory(owner=alice)
    theirs = EndpointFactory(owner=bob)
    response = signed_in(alice).post("/alerts/preferences", {
        "order_filled-in_app": "on", "order_filled-email": "on",
        "order_filled-endpoints": [str(mine.pk), str(theirs.pk)],
        "price-endpoints": [str(mine.pk), "x", "9" * 40],
    })  # fmt: skip
    assert response.status_code == 302
    filled = Preference.objects.get(owner=alice, kind=Kind.ORDER_FILLED)
    assert filled.in_app and filled.email and list(filled.endpoints.all()) == [mine]  # bob's endpoint ignored
    assert list(Preference.objects.get(owner=alice, kind=Kind.PRICE).endpoints.all()) == [mine]
    page = signed_in(alice).get("/alerts").content.decode()
    assert 'name="order_filled-email" aria-label="Order filled by email" checked' in page


@pytest.mark.django_db
def test_signing_secret_is_shown_once_and_never_again(alice):
    endpoint, secret = add_endpoint(alice, "https://93.184.216.34/hook?token=discord-credential")
    client = signed_in(alice)
    page = client.get("/alerts").content.decode()
    assert secret not in page and "discord-credential" not in page
    assert endpoint.url_display == "https://93.184.216.34/…" and secret.startswith("whsec_")
    assert client.post(f"/alerts/endpoints/{endpoint.pk}/rotate-secret").status_code == 302
    rotated = client.get("/alerts").content.decode()
    assert 'id="endpoint-secret"' in rotated and secret not in rotated


@pytest.mark.django_db
def test_admin_shows_deliveries_without_endpoint_credentials(alice, operator):
    endpoint, secret = add_endpoint(alice, "https://93.184.216.34/hook?token=discord-credential")
    DeliveryFactory(owner=alice, endpoint=endpoint, channel="webhook", target=endpoint.url_display)
    client = signed_in(operator)
    for path in ["/admin/alerts/delivery/", "/admin/alerts/endpoint/", f"/admin/alerts/endpoint/{endpoint.pk}/change/",
                 "/admin/alerts/alert/"]:  # fmt: skip
        body = client.get(path).content.decode()
        assert "discord-credential" not in body and secret not in body
    assert "93.184.216.34" in client.get("/admin/alerts/delivery/").content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": "abc"}, "Enter the price as a number"),
        ({"price": "-5"}, "positive price"),
        ({"price": "NaN"}, "positive price"),
        ({"price": "1e400"}, "positive price"),
        ({"price": "1.123456789"}, "at most 8 decimals"),
        ({"condition": "sideways"}, "Select a valid choice"),
        ({"symbol": "NOPE"}, "is not a symbol of account"),
        ({"cooldown_minutes": "0"}, "between 1 minute and 7 days"),
        ({"cooldown_minutes": "soon"}, "whole minutes"),
        ({"account": "999999"}, "Select a valid choice"),
    ],
)
@pytest.mark.django_db
def test_malformed_price_alerts_are_refused_clearly(alice, paper, fields, message):
    data = {"account": paper.pk, "symbol": "EURUSD.m", "condition": "above", "price": "1.1", "cooldown_minutes": "60",
            **fields}  # fmt: skip
    response = signed_in(alice).post("/alerts/price", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PriceAlert.objects.exists()


@pytest.mark.django_db
def test_price_alert_on_another_traders_account_is_refused(alice, bob):
    theirs = TradingAccountFactory(owner=bob)
    data = {"account": theirs.pk, "symbol": "EURUSD", "condition": "above", "price": "1.1", "cooldown_minutes": "60"}
    assert signed_in(alice).post("/alerts/price", data).status_code == 400
    assert not PriceAlert.objects.exists()


@pytest.mark.django_db
def test_names_with_markup_are_shown_as_text(alice, paper):
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client = signed_in(alice)
    data = {"name": name, "account": paper.pk, "symbol": "EURUSD.m", "condition": "below", "price": "1.05",
            "cooldown_minutes": "60"}  # fmt: skip
    assert client.post("/alerts/price", data).status_code == 302
    endpoint = {"name": name, "url": "https://93.184.216.34/", "style": "slack"}
    assert client.post("/alerts/endpoints", endpoint).status_code == 302
    prefer(alice, Kind.PRICE, in_app=True)
    alert_raise(owner=alice, kind=Kind.PRICE, title=f"Price alert {name}", text=name)

    page = client.get("/alerts").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_delivery_log_shows_own_rows_and_filters_by_status(alice, bob):
    DeliveryFactory(owner=alice, target="alice-mail@example.test", status="gave_up", last_error="HTTP 500 from x")
    DeliveryFactory(owner=alice, target="alice-sent@example.test", status="sent")
    DeliveryFactory(owner=bob, target="bob-private@example.test", status="gave_up")
    client = signed_in(alice)

    page = client.get("/alerts").content.decode()
    assert "alice-mail@example.test" in page and "HTTP 500 from x" in page and "bob-private" not in page
    given_up = client.get("/alerts?status=gave_up").content.decode()
    assert "alice-mail@example.test" in given_up and "alice-sent@example.test" not in given_up
    assert client.get("/alerts?status=<b>").status_code == 200


@pytest.mark.django_db
def test_a_sent_delivery_cannot_be_retried(alice):
    delivery = DeliveryFactory(owner=alice, status="sent")
    response = signed_in(alice).post(f"/alerts/deliveries/{delivery.pk}/retry", follow=True)
    assert "Only a failed delivery can be retried." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "sent"


@pytest.mark.django_db
def test_price_alert_toggle_and_delete(alice, paper):
    alert = PriceAlert.objects.create(owner=alice, account=paper, symbol="EURUSD.m", condition="above",
                                      price=Decimal("1.2"))  # fmt: skip
    client = signed_in(alice)
    client.post(f"/alerts/price/{alert.pk}/toggle")
    alert.refresh_from_db()
    assert not alert.active
    client.post(f"/alerts/price/{alert.pk}/delete")
    assert not PriceAlert.objects.exists()
    endpoint = EndpointFactory(owner=alice)
    client.post(f"/alerts/endpoints/{endpoint.pk}/delete")
    assert not Endpoint.objects.exists() and not Alert.objects.exists()


@pytest.mark.django_db
def test_an_endpoint_is_switched_off_and_on_by_its_owner_only(alice, bob):
    endpoint = EndpointFactory(owner=alice)

    off = signed_in(alice).post(f"/alerts/endpoints/{endpoint.pk}/toggle")
    endpoint.refresh_from_db()
    assert off.status_code == 302 and off["Location"] == "/alerts" and not endpoint.active
    assert signed_in(bob).post(f"/alerts/endpoints/{endpoint.pk}/toggle").status_code == 404
    signed_in(alice).post(f"/alerts/endpoints/{endpoint.pk}/toggle")
    endpoint.refresh_from_db()
    assert endpoint.active


@pytest.mark.django_db
def test_api_lists_own_alerts_and_deliveries_and_retries_one(alice, bob, api_client, sync_queue, smtp,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    mine = DeliveryFactory(owner=alice, status="gave_up", target=alice.email)
    DeliveryFactory(owner=bob, status="gave_up")
    api_client.force_authenticate(alice)

    listed = api_client.get("/api/v1/alert-deliveries/?status=gave_up").json()
    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert [row["id"] for row in api_client.get("/api/v1/alerts/").json()["results"]] == [mine.alert_id]
    assert api_client.get("/api/v1/alert-deliveries/?status=lost").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        retried = api_client.post(f"/api/v1/alert-deliveries/{mine.pk}/retry")
    assert retried.status_code == 200
    mine.refresh_from_db()
    assert mine.status == "sent" and len(smtp.messages) == 1
    assert api_client.post(f"/api/v1/alert-deliveries/{mine.pk}/retry").status_code == 400
