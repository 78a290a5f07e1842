"""CSRF on every form and on session-authenticated API writes, CORS closed, and the
production headers (docs/security.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from knox.models import AuthToken

from accounts.models import WebhookToken
from accounts.services import api_token_create, webhook_token_reveal
from terminals.models import TradingAccount
from tests.factories import CopyPairFactory, SymbolMappingFactory, TradingAccountFactory, UserFactory

from .pages import post_forms

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
EVIL = "https://evil.example"
PAGES = ["/", "/accounts", "/copy", "/history", "/settings"]


CONNECT = {"login": "8400001", "password": "pw-csrf-page-1", "server": "SimBroker-Demo", "kind": "simulated"}


@pytest.fixture
def trader():
    trader = UserFactory()
    page = Client()
    page.force_login(trader)
    page.post("/accounts", CONNECT)
    account = TradingAccount.objects.get(owner=trader)
    SymbolMappingFactory(owner=trader, account=account)
    CopyPairFactory(owner=trader, master=account, slave=TradingAccountFactory(owner=trader))
    api_token_create(user=trader)
    webhook_token_reveal(user=trader)
    return trader


def browser(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_every_post_form_on_the_pages_carries_the_csrf_token(trader):
    client = browser(trader)
    account = TradingAccount.objects.get(owner=trader, login=CONNECT["login"])
    paths = [*PAGES, f"/accounts/{account.pk}"]
    forms = [(path, form) for path in paths for form in post_forms(client.get(path).text)]

    assert len(forms) >= 8
    assert [(path, form["action"]) for path, form in forms if not form["csrf"]] == []


def test_every_form_refuses_a_post_from_another_origin(trader):
    client = browser(trader)
    account = TradingAccount.objects.get(owner=trader, login=CONNECT["login"])
    paths = [*PAGES, f"/accounts/{account.pk}"]
    actions = {form["action"] for path in paths for form in post_forms(client.get(path).text) if form["action"]}
    token_before = WebhookToken.objects.get(owner=trader).digest

    refused = {
        action: client.post(action, {"csrfmiddlewaretoken": "forged"}, HTTP_ORIGIN=EVIL).status_code
        for action in actions
    }

    assert len(refused) >= 5
    assert set(refused.values()) == {403}, refused
    assert WebhookToken.objects.get(owner=trader).digest == token_before
    assert AuthToken.objects.filter(user=trader).count() == 1


def test_a_form_posted_with_its_token_from_its_own_origin_works(trader):
    client = browser(trader)
    client.get("/settings")
    token = client.cookies["csrftoken"].value

    response = client.post("/settings/api-tokens", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver")

    assert response.status_code == 302
    assert AuthToken.objects.filter(user=trader).count() == 2


def test_a_valid_token_does_not_help_a_post_from_another_origin(trader):
    client = browser(trader)
    client.get("/settings")
    token = client.cookies["csrftoken"].value

    response = client.post("/settings/api-tokens", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=EVIL)

    assert response.status_code == 403
    assert AuthToken.objects.filter(user=trader).count() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/auth/rotate-token"),
        ("post", "/api/v1/orders/"),
        ("delete", "/api/v1/orders/"),
        ("post", "/api/copy/pairs/"),
        ("post", "/api/v1/symbol-mappings/"),
        ("post", "/api/v1/accounts/connect"),
    ],
)
def test_session_api_writes_need_the_csrf_token(trader, method, path):
    client = browser(trader)
    token_before = WebhookToken.objects.get(owner=trader).digest

    response = getattr(client, method)(path, "{}", content_type="application/json", HTTP_ORIGIN=EVIL)

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert WebhookToken.objects.get(owner=trader).digest == token_before


def test_scripts_with_an_api_key_need_no_csrf_token(trader):
    key = api_token_create(user=trader)
    client = Client(enforce_csrf_checks=True)

    response = client.post("/auth/rotate-token", HTTP_AUTHORIZATION=f"Token {key}", HTTP_ORIGIN=EVIL)

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/auth/status", "/api/v1/accounts/", "/auth/webhook-token", "/api/schema/"])
def test_no_response_allows_another_origin_to_read_it(trader, path):
    client = browser(trader)

    preflight = client.options(
        path,
        HTTP_ORIGIN=EVIL,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-csrftoken",
    )
    read = client.get(path, HTTP_ORIGIN=EVIL)

    for response in (preflight, read):
        assert not any(header.lower().startswith("access-control-") for header in response.headers)


def test_lockout_answer_to_a_script_allows_no_other_origin(client, settings, alice):
    settings.PASSWORD_LOGIN = True
    for n in range(6):
        response = client.post(
            "/login", {"username": "alice", "password": f"x{n}"}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
        )

    assert response.status_code == 429
    assert "Access-Control-Allow-Origin" not in response.headers


PRODUCTION = {
    "DEBUG": "0",
    "HTTPS": "1",
    "SECRET_KEY": "production-secret-key-" + "k" * 50,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mt5saas.example.com",
}
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="mt5saas.example.com")
secure = client.get("/auth/status", secure=True)
plain = client.get("/auth/status")
print(json.dumps({
    "headers": dict(secure.headers),
    "plain": [plain.status_code, plain.headers.get("Location")],
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
}))
"""


def test_production_sends_the_security_headers():
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG", "HTTPS"}}
    env = {**base, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "mt5saas.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    headers = {k.lower(): v for k, v in seen["headers"].items()}

    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert seen["plain"] == [301, "https://mt5saas.example.com/auth/status"]
    assert seen["cookies"] == [True, True, True]
