"""Alerts start with defaults: in the app for every kind, by email for what a trader must act
on (when they have an address); a choice a trader made is never overwritten."""

import io
import json
import re
from importlib import import_module

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from accounts.services import webhook_token_reveal
from alerts.models import TRADER_KINDS, Alert, Kind, Preference
from tests.factories import UserFactory

from .helpers import run_dispatch

EMAILED = {Kind.ORDER_FAILED, Kind.SIGNAL_REJECTED, Kind.ACCOUNT_STATUS, Kind.STOP_OUT}
# The kinds there were when migration 0004 gave the defaults (0005 added the closed positions').
KINDS_0004 = [Kind(kind) for kind in import_module("alerts.migrations.0004_default_preferences").KINDS]


def checked(user) -> dict[str, set[str]]:
    """The Alerts page's ticked boxes: channel → kinds."""
    client = Client()
    client.force_login(user)
    page = client.get("/alerts").content.decode()
    boxes = re.findall(r'name="(\w+)-(in_app|email)"[^>]*?( checked)?>', page)
    return {channel: {kind for kind, c, tick in boxes if c == channel and tick} for channel in ("in_app", "email")}


@pytest.mark.django_db
def test_a_new_trader_gets_every_alert_in_the_app_and_what_went_wrong_by_email(
    smtp, sync_queue, django_capture_on_commit_callbacks
):
    trader = UserFactory(username="newcomer", email="newcomer@example.test")

    assert checked(trader) == {"in_app": set(TRADER_KINDS), "email": EMAILED}
    token = webhook_token_reveal(user=trader)
    refused = Client().post(f"/webhook/{token}", json.dumps({"action": "jump", "symbol": "XAUUSD"}),
                            content_type="text/plain")  # fmt: skip
    assert refused.status_code == 400
    run_dispatch(django_capture_on_commit_callbacks)

    assert Alert.objects.filter(owner=trader, kind=Kind.SIGNAL_REJECTED).exists()
    ((rcpt, message),) = smtp.messages
    assert rcpt == ["newcomer@example.test"] and "Signal refused" in message["Subject"]


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["", "someone@demo.invalid"])
def test_a_trader_without_a_real_address_gets_no_email_by_default(email):
    trader = UserFactory(email=email)

    assert checked(trader) == {"in_app": set(TRADER_KINDS), "email": set()}


@pytest.mark.django_db
def test_the_demo_trader_gets_alerts_in_the_app_only():
    call_command("demo", "--json", stdout=io.StringIO())

    assert not Preference.objects.filter(owner__username="demo", email=True).exists()
    assert Preference.objects.filter(owner__username="demo", in_app=True).count() == len(TRADER_KINDS)


@pytest.mark.django_db
def test_a_trader_who_switched_alerts_off_stays_switched_off(smtp, sync_queue, django_capture_on_commit_callbacks):
    trader = UserFactory()
    client = Client()
    client.force_login(trader)
    assert client.post("/alerts/preferences", {}).status_code == 302  # every box unticked
    trader.name = "Renamed at sign-in"
    trader.save()

    assert checked(trader) == {"in_app": set(), "email": set()}
    token = webhook_token_reveal(user=trader)
    Client().post(f"/webhook/{token}", "{}", content_type="text/plain")
    run_dispatch(django_capture_on_commit_callbacks)
    assert not Alert.objects.filter(owner=trader).exists() and not smtp.messages


@pytest.mark.django_db(transaction=True)
def test_existing_traders_get_the_defaults_for_kinds_they_never_chose():
    executor = MigrationExecutor(connection)
    # Users as they are today (every accounts migration applied), preferences as before the defaults.
    users_now = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "accounts"]
    before, after = [("alerts", "0003_cursor_failed_row"), *users_now], [("alerts", "0004_default_preferences")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    users, preferences = old.get_model("accounts", "User"), old.get_model("alerts", "Preference")
    users.objects.create(username="never", email="never@example.test")
    chose = users.objects.create(username="chose", email="chose@example.test")
    for kind in KINDS_0004:  # saved the page once with only order fills by email
        preferences.objects.create(owner=chose, kind=kind, email=kind == Kind.ORDER_FILLED)
    older = users.objects.create(username="older", email="")
    preferences.objects.create(owner=older, kind=Kind.ORDER_FILLED, in_app=False)  # before the other kinds existed

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    def rows(username):
        found = Preference.objects.filter(owner__username=username)
        return {p.kind: (p.in_app, p.email) for p in found}

    assert rows("never") == {kind: (True, kind in EMAILED) for kind in KINDS_0004}
    assert rows("chose") == {kind: (False, kind == Kind.ORDER_FILLED) for kind in KINDS_0004}
    assert rows("older") == {kind: (kind != Kind.ORDER_FILLED, False) for kind in KINDS_0004}
    executor = MigrationExecutor(connection)
    executor.migrate([(app, name) for app, name in executor.loader.graph.leaf_nodes() if app == "alerts"])


@pytest.mark.django_db(transaction=True)
def test_existing_traders_get_the_closed_position_kinds_and_a_stop_out_by_email():
    executor = MigrationExecutor(connection)
    users_now = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "accounts"]
    before, after = [("alerts", "0004_default_preferences"), *users_now], [("alerts", "0005_closed_positions_kinds")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    users, preferences = old.get_model("accounts", "User"), old.get_model("alerts", "Preference")
    users.objects.create(username="addressed", email="addressed@example.test")
    users.objects.create(username="demo-like", email="someone@demo.invalid")
    quiet = users.objects.create(username="quiet", email="quiet@example.test")
    for kind in KINDS_0004:  # switched every alert off
        preferences.objects.create(owner=quiet, kind=kind)

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    def rows(username):
        found = Preference.objects.filter(owner__username=username)
        return {p.kind: (p.in_app, p.email) for p in found}

    new = {Kind.CLOSED_SL: (True, False), Kind.CLOSED_TP: (True, False), Kind.STOP_OUT: (True, True)}
    assert {kind: rows("addressed")[kind] for kind in new} == new
    assert rows("demo-like")[Kind.STOP_OUT] == (True, False)
    assert rows("quiet") == {**{kind: (False, False) for kind in KINDS_0004}, **new}
    executor = MigrationExecutor(connection)
    executor.migrate([(app, name) for app, name in executor.loader.graph.leaf_nodes() if app == "alerts"])
