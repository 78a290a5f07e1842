"""Hostile input at the edges: the legacy token, SQL-looking tokens, path traversal in what
becomes a file name on a host. (Header injection in outbound webhooks and alert names belong
to the alerts app.)"""

import logging
from pathlib import Path

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import WebhookToken
from accounts.services import api_token_create
from terminals.drivers.base import Filling, OrderRequest, OrderType, TradeAction
from terminals.drivers.ea_protocol import ProtocolError, parse_result
from terminals.models import TradingAccount
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.clocks import WEDNESDAY_NOON, Clock
from webhooks.models import Signal

pytestmark = pytest.mark.django_db

LEGACY = "legacy-single-user-token-value"
ALERT = '{"action": "buy", "symbol": "BTCUSD", "volume": 0.01}'
SQL_TOKENS = [
    "' OR '1'='1",
    "whk_' OR 1=1 --",
    "x'; DROP TABLE accounts_user; --",
    '" OR ""="',
    "1 UNION SELECT digest",
]
TRAVERSALS = ["../../etc/passwd", "..\\..\\Windows\\win.ini", "1/../../2", "/etc/passwd", "C:\\Windows", "123\x00456"]


@pytest.fixture
def legacy(settings, operator):
    settings.WEBHOOK_TOKEN = LEGACY
    TradingAccountFactory(owner=operator)
    return operator


def test_legacy_token_shares_the_operators_rate_limit(client, legacy, settings):
    settings.WEBHOOK_RATE_LIMIT = "2/m"

    answers = [client.post(f"/webhook/{LEGACY}", ALERT, content_type="text/plain").status_code for _ in range(3)]

    assert answers == [202, 202, 429]
    assert Signal.objects.filter(owner=legacy).count() == 2


def test_legacy_token_use_is_logged_without_the_token(client, legacy, caplog):
    with caplog.at_level(logging.INFO, logger="accounts"):
        client.post(f"/webhook/{LEGACY}", ALERT, content_type="text/plain")

    [line] = [r.getMessage() for r in caplog.records if "legacy" in r.getMessage()]
    assert line == f"webhook: legacy WEBHOOK_TOKEN used, mapped to user {legacy.pk}"
    assert LEGACY not in caplog.text


def test_legacy_token_can_be_switched_off(client, legacy, settings):
    settings.WEBHOOK_TOKEN_ENABLED = False

    in_path = client.post(f"/webhook/{LEGACY}", ALERT, content_type="text/plain")
    in_body = client.post("/webhook/", f'{{"token": "{LEGACY}", {ALERT[1:]}', content_type="text/plain")

    assert in_path.status_code == in_body.status_code == 404
    assert not Signal.objects.exists()


@pytest.mark.parametrize("token", SQL_TOKENS)
def test_sql_looking_tokens_are_just_unknown_tokens(client, alice, token):
    api_token_create(user=alice)
    users_before = type(alice).objects.count()

    in_path = client.post(f"/webhook/{token}", ALERT, content_type="text/plain")
    in_body = client.post("/webhook/", {"token": token, "action": "buy"}, content_type="application/json")
    api = client.get("/api/v1/accounts/", HTTP_AUTHORIZATION=f"Token {token}")
    copy = client.post("/api/copy/trade", {"api_key": token, "event": "deal_add"}, content_type="application/json")

    assert in_path.status_code == 404
    assert in_body.status_code == 404
    assert api.status_code == 401
    assert copy.status_code == 401
    assert type(alice).objects.count() == users_before and AuthToken.objects.count() == 1
    assert not Signal.objects.exists() and not WebhookToken.objects.filter(digest__contains="'").exists()


@pytest.mark.parametrize("login", TRAVERSALS)
def test_a_login_that_names_a_path_is_refused_at_registration(alice, login):
    client = APIClient()
    client.force_authenticate(alice)

    response = client.post(
        "/api/v1/accounts/connect",
        {"login": login, "password": "pw-traversal-1", "server": "SimBroker-Demo", "kind": "ea_bridge"},
        format="json",
    )

    # A NUL is refused with the body, before any field is read (no database text holds one).
    nul = response.json()["detail"].startswith("login contains a NUL")
    refused = nul if "\x00" in login else "login" in response.json()["errors"]
    assert response.status_code == 400 and refused
    assert not TradingAccount.objects.exists()


@pytest.mark.parametrize("login", TRAVERSALS)
def test_a_login_that_names_a_path_is_refused_on_the_accounts_page(client, alice, login):
    client.force_login(alice)

    response = client.post(
        "/accounts", {"login": login, "password": "pw-traversal-2", "server": "SimBroker-Demo", "kind": "ea_bridge"}
    )

    assert response.status_code == 400
    assert not TradingAccount.objects.exists()


@pytest.mark.parametrize("symbol", ["../../../x", "..\\..\\x", "GOLD/../../y"])
def test_a_symbol_that_names_a_path_stays_inside_the_command_file(db, tmp_path, symbol):
    driver, ea = ea_bridge_driver(tmp_path, clock=Clock(WEDNESDAY_NOON), timeout=0.3)
    driver.connect(login=7001, password="paper-pass", server="SimBroker-Demo")
    files = driver.files_dir

    result = driver.order_send(
        OrderRequest(action=TradeAction.DEAL, symbol=symbol, volume=0.01, type=OrderType.BUY, type_filling=Filling.IOC)
    )

    assert result.retcode != 10009  # no such symbol: refused by the EA
    written = [c["symbol"] for c in ea.commands]
    assert written == [symbol]  # the symbol travelled as data in the file
    outside = [p for p in tmp_path.rglob("*") if files not in p.parents and p != files and p not in files.parents]
    assert outside == []
    assert not (tmp_path.parent / "x").exists() and not Path("y").exists()


@pytest.mark.parametrize("command_id", ["../../evil", "..\\evil", "0000000000001-abc/../x"])
def test_a_result_naming_another_command_id_is_refused(command_id):
    text = f'{{"command_id": "{command_id}", "retcode": 10009, "ticket": 1, "price": 1.0, "message": ""}}'
    text = text.replace("\\", "\\\\")

    with pytest.raises(ProtocolError):
        parse_result(text, "0000000000001-abcdef123456")
