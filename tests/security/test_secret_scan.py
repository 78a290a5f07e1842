"""The secret scan sees a secret wherever it shows up: a log line, an error page, an admin
page, an API answer; and leaves alone a trader's own webhook URL on their dashboard."""

import logging

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path

from accounts.services import api_token_create, webhook_token_reveal
from mt5saas.crypto import encrypt
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.django_db

LEAKED_PASSWORD = "scan-probe-mt5-password"


def leaky_page(request):
    return HttpResponse(f"<p>{request.GET['value']}</p>", status=int(request.GET.get("status", 200)))


def leaky_api(request):
    return JsonResponse({"detail": f"could not log in with {request.GET['value']}"}, status=400)


urlpatterns = [path("leaky/page", leaky_page), path("leaky/api", leaky_api)]


def test_an_mt5_password_in_a_log_line_is_found(secret_scan, alice):
    TradingAccountFactory(owner=alice, password=encrypt(LEAKED_PASSWORD))

    logging.getLogger("terminals").warning("login failed for password %s", LEAKED_PASSWORD)

    [finding] = secret_scan.take_findings()
    assert (finding.kind, finding.where) == ("MT5 password", "log line of terminals")


@override_settings(ROOT_URLCONF=__name__)
def test_secrets_in_pages_and_api_answers_are_found(client, secret_scan, alice, settings):
    token, key = webhook_token_reveal(user=alice), api_token_create(user=alice)
    encrypt(LEAKED_PASSWORD)

    client.get("/leaky/page", {"value": token})
    client.get("/leaky/page", {"value": key, "status": 500})
    client.get("/leaky/api", {"value": LEAKED_PASSWORD})
    client.get("/leaky/api", {"value": settings.FIELD_ENCRYPTION_KEYS[0]})

    kinds = [(f.kind, f.where) for f in secret_scan.take_findings()]
    assert kinds == [
        ("webhook token", "GET /leaky/page → 200"),
        ("API key", "GET /leaky/page → 500"),
        ("MT5 password", "GET /leaky/api → 400"),
        ("encryption key", "GET /leaky/api → 400"),
    ]


def test_a_traders_own_webhook_url_on_their_dashboard_is_not_a_finding(client, secret_scan, alice):
    client.force_login(alice)
    token = webhook_token_reveal(user=alice)

    dashboard = client.get("/")

    assert token in dashboard.text
    assert secret_scan.take_findings() == []


def test_the_same_token_in_the_admin_is_a_finding(client, secret_scan, operator, alice):
    token = webhook_token_reveal(user=alice)
    client.force_login(operator)

    with override_settings(ROOT_URLCONF=__name__):
        client.get("/leaky/page", {"value": token, "status": 404})

    [finding] = secret_scan.take_findings()
    assert finding.kind == "webhook token" and finding.where.endswith("404")
