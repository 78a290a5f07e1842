"""Schemathesis against /api/schema/ with two traders' API keys.

Every operation gets generated requests, sent as trader A (who has accounts, orders, pairs,
mappings) and again as trader B (who has nothing). No request may answer 5xx, every answer
must match the schema, and nothing B receives may name anything of A's. Examples per
operation are bounded so the suite stays quick; the webhook body keeps its own hypothesis
test in tests/webhooks.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from accounts.services import api_token_create, webhook_token_reveal
from copytrading.services import pair_create
from terminals.models import TradingAccount
from tests.factories import OrderFactory, SymbolMappingFactory, UserFactory

EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass
class Traders:
    a_key: str
    b_key: str
    # Strings only A's data contains: logins, names, comments, token and key prefixes.
    a_marks: list[str]


@contextmanager
def connection_kept():
    """schemathesis calls Django's WSGI handler itself, which closes the database connection
    after a request made inside a transaction, as the test's is (on PostgreSQL the test's
    data is then gone). Django's test client holds it open the same way, and reconnects the
    handlers after each of its own requests, so this wraps each call."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def traders(db, settings) -> Traders:
    settings.API_RATE_LIMIT = "100000/m"
    a = UserFactory(username="fuzz-alice-7f3q", email="fuzz-alice-7f3q@example.test", name="Alice Fuzzmark")
    b = UserFactory(username="fuzz-bob-2k9w")
    a_key = api_token_create(user=a)
    master = connect(a_key, login="73451901", nickname="alice-master-9xq")
    slave = connect(a_key, login="73451902", nickname="alice-slave-4rt")
    SymbolMappingFactory(owner=a, account=master, requested="ALICEGOLD", broker_symbol="ALICEXAU")
    OrderFactory(owner=a, account=master, comment="alice-order-note-5tz", requested_symbol="ALICEBTC")
    _, pair_key = pair_create(owner=a, master=master, slave=slave)
    webhook = webhook_token_reveal(user=a)
    marks = [
        a.username, a.email, a.name, master.login, slave.login, master.nickname, slave.nickname,
        "ALICEGOLD", "ALICEXAU", "alice-order-note-5tz", "ALICEBTC", pair_key, webhook,
    ]  # fmt: skip
    return Traders(a_key, api_token_create(user=b), marks)


def connect(key: str, **fields) -> TradingAccount:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = {"password": "fuzz-mt5-pass-1", "server": "SimBroker-Demo", "kind": "simulated", **fields}
    response = client.post("/api/v1/accounts/connect", body, format="json")
    assert response.status_code == 201, response.content
    return TradingAccount.objects.get(pk=response.json()["id"])


# Loaded when the module is collected: the schema is served without touching the database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_schema_and_never_cross_tenants(case, traders):
    if isinstance(case.body, dict) and "password" in case.body:
        # A generated password may equal another field (the server, say) that is rightly shown
        # back; a distinctive one keeps the secret scan meaningful.
        case.body["password"] = "fuzz-mt5-password-generated"
    with connection_kept():
        as_a = case.call(headers={"Authorization": f"Token {traders.a_key}"})
        case.validate_response(as_a, checks=CHECKS)

        as_b = case.call(headers={"Authorization": f"Token {traders.b_key}"})
        case.validate_response(as_b, checks=CHECKS)

    seen_by_b = as_b.text
    leaked = [mark for mark in traders.a_marks if mark in seen_by_b]
    assert leaked == [], f"{case.method} {case.formatted_path} showed B {leaked}: {json.dumps(seen_by_b)[:300]}"
