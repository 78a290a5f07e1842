"""Every page passes the strict CSP (no inline script, style or handler) and renders an XSS
payload in every text field a trader controls as inert text. Alert names belong to the alerts
app and are covered there."""

import pytest
from django.contrib import admin
from django.test import Client

from terminals.models import TradingAccount
from tests.factories import (
    CopyEventFactory,
    CopyExecutionFactory,
    CopyPairFactory,
    OrderFactory,
    SignalFactory,
    SymbolMappingFactory,
    TradingAccountFactory,
    UserFactory,
)

from .pages import policy_violations

pytestmark = pytest.mark.django_db

PAYLOAD = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
SYMBOL = "<script>alert(3)</script>"
TRADER_PAGES = ["/", "/accounts", "/accounts/table", "/copy", "/copy/history", "/history", "/alerts", "/settings"]


@pytest.fixture
def trader_with_payloads():
    """A trader whose every free-text field holds the payload (symbols are shorter fields)."""
    trader = UserFactory(name=PAYLOAD[:150])
    master = TradingAccountFactory(owner=trader, nickname=PAYLOAD[:60])
    slave = TradingAccountFactory(owner=trader, nickname=PAYLOAD[:60])
    SymbolMappingFactory(owner=trader, account=master, requested=SYMBOL, broker_symbol=SYMBOL)
    signal = SignalFactory(owner=trader, symbol=SYMBOL)
    OrderFactory(owner=trader, account=master, signal=signal, requested_symbol=SYMBOL, symbol=SYMBOL, comment=PAYLOAD)
    CopyPairFactory(owner=trader, master=master, slave=slave, symbol_map={SYMBOL: SYMBOL})
    event = CopyEventFactory(owner=trader, master=master, symbol=SYMBOL)
    CopyExecutionFactory(owner=trader, event=event, slave=slave, error=PAYLOAD)
    return trader


def assert_inert(response, path: str) -> None:
    assert response.status_code == 200, path
    assert policy_violations(response.text) == [], path
    assert "<script>alert" not in response.text, path


@pytest.mark.parametrize("path", TRADER_PAGES)
def test_trader_pages_pass_the_csp_with_payloads_in_every_field(client, trader_with_payloads, path):
    client.force_login(trader_with_payloads)

    response = client.get(path)

    assert_inert(response, path)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_account_page_renders_payloads_as_text(client):
    trader = UserFactory()
    client.force_login(trader)
    connect = {"login": "8400001", "password": "pw-xss-page-1", "server": "SimBroker-Demo", "kind": "simulated"}
    client.post("/accounts", {**connect, "nickname": PAYLOAD[:60]})
    account = TradingAccount.objects.get(owner=trader)
    client.post(f"/accounts/{account.pk}/mappings", {"requested": SYMBOL, "broker_symbol": SYMBOL})

    response = client.get(f"/accounts/{account.pk}")

    assert_inert(response, "account page")
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize("path", ["/login", "/api/docs/"])
def test_public_pages_pass_the_csp(client, path, settings):
    settings.PASSWORD_LOGIN = True

    response = client.get(path)

    assert response.status_code == 200
    assert policy_violations(response.text) == []


def test_api_docs_script_is_served_as_a_file(client):
    page = client.get("/api/docs/").text
    script = client.get("/api/docs/?script=")

    assert "script=" in page
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


def admin_pages() -> list[str]:
    pages = ["/admin/"]
    for model in admin.site._registry:
        info = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages.append(info)
        row = model._default_manager.first()
        if row is not None:
            pages.append(f"{info}{row.pk}/change/")
    return pages


def test_admin_pages_pass_the_csp_and_render_payloads_as_text(trader_with_payloads, settings):
    settings.PASSWORD_LOGIN = True
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    assert client.post("/login", {"username": "root", "password": "correct horse battery staple"}).status_code == 302

    failures = {}
    for path in admin_pages():
        response = client.get(path)
        if response.status_code != 200 or policy_violations(response.text) or "<script>alert" in response.text:
            failures[path] = (response.status_code, policy_violations(response.text)[:3])

    assert failures == {}


def test_the_policy_check_finds_what_the_csp_would_block():
    html = (
        '<script>alert(1)</script><script src="//cdn.example/x.js"></script><a href="javascript:x()">a</a>'
        '<b onclick="x()" style="color:red">b</b><style>b{}</style><script type="application/json">{}</script>'
        '<script src="/static/app.js"></script>'
    )

    assert len(policy_violations(html)) == 6
