"""The audit trail: who created, changed or deleted accounts, pairs, tokens, mappings and
users, from which address and when; rotations included; never a secret value."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import WebhookToken
from accounts.services import api_token_create, webhook_token_reveal
from audit.models import AuditEvent
from mt5saas.crypto import encrypt
from terminals.models import TradingAccount
from tests.conftest import PASSWORD
from tests.factories import TradingAccountFactory, UserFactory

pytestmark = pytest.mark.django_db

IP = "198.51.100.77"
MT5_PASSWORD = "audit-mt5-password-1"


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


def trail_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.fixture
def trader_api(alice) -> APIClient:
    client = APIClient(REMOTE_ADDR=IP)
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=alice)}")
    return client


def test_account_created_and_changed_through_the_api_is_recorded_without_its_password(trader_api, alice):
    body = {"login": "8100001", "password": MT5_PASSWORD, "server": "SimBroker-Demo", "kind": "simulated"}
    created = trader_api.post("/api/v1/accounts/connect", body, format="json").json()
    trader_api.patch(f"/api/v1/accounts/{created['id']}/", {"nickname": "gold desk", "max_lot": "2.00"}, format="json")
    account = TradingAccount.objects.get(pk=created["id"])

    [create] = events(model="terminals.TradingAccount", action="create")
    [update] = events(model="terminals.TradingAccount", action="update")

    assert (create.actor, create.actor_name, create.ip, create.object_id) == (alice, "alice", IP, str(account.pk))
    assert create.changes["login"] == "8100001" and create.changes["password"] == "changed"
    assert update.changes == {"nickname": ["", "gold desk"], "max_lot": [None, "2.00"]}
    assert update.origin == f"PATCH /api/v1/accounts/{account.pk}/"
    assert MT5_PASSWORD not in trail_text() and account.password not in trail_text()


def test_what_the_service_keeps_up_to_date_itself_is_not_recorded(alice):
    account = TradingAccountFactory(owner=alice)
    before = AuditEvent.objects.count()
    account.status, account.balance, account.equity = TradingAccount.Status.OFFLINE, 12, 11
    account.save()
    account.save(update_fields=["heartbeat_at"])

    assert AuditEvent.objects.count() == before


def test_webhook_token_rotation_is_recorded_without_the_token_or_its_digest(client, alice):
    first = webhook_token_reveal(user=alice)
    client.force_login(alice)

    client.post("/settings/webhook-token/rotate", REMOTE_ADDR=IP)
    row = WebhookToken.objects.get(owner=alice)

    [rotation] = events(model="accounts.WebhookToken", action="rotate")
    assert (rotation.actor, rotation.ip) == (alice, IP)
    assert rotation.changes["digest"] == rotation.changes["ciphertext"] == "changed"
    text = trail_text()
    assert first not in text and webhook_token_reveal(user=alice) not in text
    assert row.digest not in text and row.ciphertext not in text


def test_api_keys_created_and_revoked_are_recorded_without_the_key(client, alice):
    client.force_login(alice)
    client.post("/settings/api-tokens", REMOTE_ADDR=IP)
    key = client.get("/settings").context["new_api_token"]
    token_key = key[:15]
    client.post(f"/settings/api-tokens/{token_key}/revoke", REMOTE_ADDR=IP)

    [created] = events(model="knox.AuthToken", action="create")
    [deleted] = events(model="knox.AuthToken", action="delete")

    assert created.actor == deleted.actor == alice and created.ip == IP
    assert created.object_id == token_key and "digest" not in created.changes
    assert deleted.object_repr.startswith(f"API key {token_key}")
    assert key not in trail_text()


def test_copy_pair_create_key_rotation_and_delete_are_recorded_without_the_key(trader_api, alice):
    master, slave = TradingAccountFactory(owner=alice), TradingAccountFactory(owner=alice)

    made = trader_api.post("/api/copy/pairs/", {"master": master.pk, "slave": slave.pk}, format="json").json()
    new_key = trader_api.post(f"/api/copy/pairs/{made['id']}/rotate-key").json()["api_key"]
    trader_api.delete(f"/api/copy/pairs/{made['id']}/")

    actions = [e.action for e in events(model="copytrading.CopyPair")]
    assert actions == ["create", "rotate", "delete"]
    assert all(e.actor == alice and e.ip == IP for e in events(model="copytrading.CopyPair"))
    assert made["api_key"] not in trail_text() and new_key not in trail_text()


def test_symbol_mappings_are_recorded(trader_api, alice):
    body = {"login": "8100002", "password": MT5_PASSWORD, "server": "SimBroker-Demo", "kind": "simulated"}
    account = TradingAccount.objects.get(
        pk=trader_api.post("/api/v1/accounts/connect", body, format="json").json()["id"]
    )

    created = trader_api.post(
        "/api/v1/symbol-mappings/", {"account": account.pk, "requested": "XAUUSD", "broker_symbol": "GOLD"}
    ).json()
    trader_api.delete(f"/api/v1/symbol-mappings/{created['id']}/")

    create, delete = events(model="terminals.SymbolMapping")
    assert (create.action, delete.action) == ("create", "delete")
    assert create.changes["requested"] == "XAUUSD" and create.changes["broker_symbol"] == "GOLD"
    assert create.actor == delete.actor == alice


def test_operator_changes_to_users_in_the_admin_are_recorded(settings, alice, operator):
    settings.PASSWORD_LOGIN = True
    admin = Client(REMOTE_ADDR="203.0.113.50")
    admin.post("/login", {"username": "operator", "password": PASSWORD})

    admin.post("/admin/accounts/user/", {"action": "disable_users", "_selected_action": [alice.pk]})
    admin.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"password1": "a-new-Passw0rd-for-alice", "password2": "a-new-Passw0rd-for-alice", "usable_password": "true"},
    )

    changes = [e.changes for e in events(model="accounts.User", object_id=str(alice.pk))]
    assert changes[-2:] == [{"is_active": [True, False]}, {"password": "changed"}]
    by_operator = events(model="accounts.User", actor=operator)
    assert len(by_operator) == 2 and all(e.ip == "203.0.113.50" for e in by_operator)
    assert "a-new-Passw0rd-for-alice" not in trail_text()
    alice.refresh_from_db()
    assert alice.check_password("a-new-Passw0rd-for-alice")


def test_disabling_a_user_through_the_api_is_recorded(operator, alice):
    client = APIClient(REMOTE_ADDR=IP)
    client.force_authenticate(operator)

    client.post(f"/api/admin/users/{alice.pk}/toggle")

    [toggle] = events(model="accounts.User", action="update", actor=operator)
    assert toggle.changes == {"is_active": [True, False]} and toggle.ip == IP


def test_encryption_key_rotation_is_recorded_without_any_key(settings, alice):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    TradingAccountFactory(owner=alice, password=encrypt(MT5_PASSWORD))
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]

    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115

    [rotation] = events(action="key_rotation")
    assert rotation.changes["terminals.TradingAccount"] == 1
    assert rotation.origin.startswith("command:")
    text = trail_text()
    assert new_key not in text and all(key not in text for key in old_keys) and MT5_PASSWORD not in text


def test_operators_read_the_trail_in_the_admin_and_nobody_edits_it(settings, operator, alice):
    settings.PASSWORD_LOGIN = True
    TradingAccountFactory(owner=alice, nickname="watched")
    admin = Client()
    admin.post("/login", {"username": "operator", "password": PASSWORD})
    event = AuditEvent.objects.get(model="terminals.TradingAccount")

    listing = admin.get("/admin/audit/auditevent/?model=terminals.TradingAccount")
    detail = admin.get(f"/admin/audit/auditevent/{event.pk}/change/")
    add = admin.get("/admin/audit/auditevent/add/")
    delete = admin.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and "watched" in listing.text
    assert detail.status_code == 200
    assert add.status_code == delete.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    event.object_repr = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_a_trader_cannot_read_the_trail(client, alice):
    client.force_login(alice)

    assert client.get("/admin/audit/auditevent/").status_code == 403


def test_events_keep_who_it_was_after_the_user_is_deleted(operator):
    gone = UserFactory(username="leaver")
    TradingAccountFactory(owner=gone)
    from audit.context import Origin, current

    client = Client()
    client.force_login(gone)
    request = client.get("/settings").wsgi_request
    reset = current.set(Origin(request=request))
    try:
        TradingAccountFactory(owner=gone, nickname="made by leaver")
    finally:
        current.reset(reset)
    gone.delete()

    made = AuditEvent.objects.get(changes__nickname="made by leaver")
    assert made.actor is None and made.actor_name == "leaver"


def test_a_mapping_learned_from_a_webhook_is_recorded_without_the_token_in_its_origin(alice):
    from terminals.services import account_connect

    account_connect(owner=alice, login="8100003", password=MT5_PASSWORD, server="SimBroker-Demo", kind="simulated")
    token = webhook_token_reveal(user=alice)

    response = Client(REMOTE_ADDR=IP).post(
        f"/webhook/{token}", json.dumps({"action": "buy", "symbol": "XAUUSD", "volume": "0.01"}),
        content_type="text/plain",
    )

    assert response.status_code == 202
    [learned] = events(model="terminals.SymbolMapping", action="create")
    assert learned.changes["broker_symbol"] == "GOLD" and learned.ip == IP
    assert learned.origin == "POST /webhook/<redacted>"
    assert token not in trail_text() and token[4:12] not in trail_text()


@pytest.mark.django_db(transaction=True)
def test_paths_stored_before_redaction_are_redacted_by_a_migration_that_says_so():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("audit", "0002_viewed")], [("audit", "0003_redact_origins")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("audit", "AuditEvent")
    token = "whk_" + "T0kenFromBeforeRedaction" * 2
    leaked = old.objects.create(action="create", model="terminals.SymbolMapping", object_id="7",
                                origin=f"POST /webhook/{token}")  # fmt: skip
    plain = old.objects.create(action="update", model="terminals.TradingAccount", object_id="3",
                               origin="PATCH /api/v1/accounts/3/")  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    assert AuditEvent.objects.get(pk=leaked.pk).origin == "POST /webhook/<redacted>"
    assert AuditEvent.objects.get(pk=plain.pk).origin == "PATCH /api/v1/accounts/3/"
    [note] = events(action="redaction")
    assert note.changes == {"origin": [leaked.pk]} and note.origin == "migration: audit.0003_redact_origins"
    assert "1 request path" in note.object_repr
    assert token not in trail_text()
    executor = MigrationExecutor(connection)
    executor.migrate([(app, name) for app, name in executor.loader.graph.leaf_nodes() if app == "audit"])
