"""Every admin of traders' data records who looked (audit trail) and lists its rows in a
fixed number of queries; a new model's admin is held to both without anyone remembering."""

import itertools

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from accounts.models import User
from accounts.services import api_token_create
from audit.admin import ReadOnlyTraderDataAdmin, TraderDataAdmin
from audit.models import AuditEvent
from copytrading.models import CopyEvent
from journal.models import Deal, EquityPoint, Trade
from live.models import Event
from terminals.models import Order
from tests.alerts.factories import ALERTS_FACTORIES
from tests.factories import OWNED_FACTORIES, UserFactory
from tests.live.factories import LIVE_FACTORIES
from webhooks.models import Signal

pytestmark = pytest.mark.django_db

NOT_TRADER_DATA = {AuditEvent}  # the trail itself: its actor is the operator
serial = itertools.count()


def holds_trader_data(model, seen=()) -> bool:
    """The user model, or a model pointing at one that holds traders' data."""
    if model._meta.label == settings.AUTH_USER_MODEL:
        return True
    if model in NOT_TRADER_DATA or model in seen:
        return False
    return any(
        field.many_to_one and holds_trader_data(field.related_model, (*seen, model))
        for field in model._meta.concrete_fields
    )


TRADER_DATA_ADMINS = {model: ma for model, ma in admin.site._registry.items() if holds_trader_data(model)}


def test_every_admin_of_traders_data_records_views():
    unrecorded = [m._meta.label for m, a in TRADER_DATA_ADMINS.items() if not isinstance(a, TraderDataAdmin)]

    assert unrecorded == [], "derive these admins from audit.admin.TraderDataAdmin"


def test_orders_signals_copy_events_and_live_events_are_in_the_admin_read_only():
    for model in (Order, Signal, CopyEvent, Event, Deal, Trade, EquityPoint):
        assert isinstance(admin.site._registry.get(model), ReadOnlyTraderDataAdmin), model._meta.label


def make_row(model):
    owner = UserFactory()
    if model is User:
        return owner
    if model is AuthToken:
        api_token_create(user=owner)
        return AuthToken.objects.get(user=owner)
    if model is EmailAddress:
        return EmailAddress.objects.create(user=owner, email=owner.email)
    if model is SocialAccount:
        return SocialAccount.objects.create(user=owner, provider="google", uid=f"uid-{next(serial)}")
    if model is Authenticator:
        return TOTP.activate(owner, generate_totp_secret()).instance
    return {**OWNED_FACTORIES, **LIVE_FACTORIES, **ALERTS_FACTORIES}[model](owner=owner)


def changelist_path(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


@pytest.mark.parametrize("model", TRADER_DATA_ADMINS, ids=lambda m: m._meta.label)
def test_a_list_costs_the_same_queries_for_three_rows_or_twelve(client, operator, django_assert_max_num_queries, model):
    client.force_login(operator)
    for _ in range(3):
        make_row(model)
    with CaptureQueriesContext(connection) as few:
        assert client.get(changelist_path(model)).status_code == 200
    for _ in range(9):
        make_row(model)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(changelist_path(model)).status_code == 200


@pytest.mark.parametrize("model", TRADER_DATA_ADMINS, ids=lambda m: m._meta.label)
def test_a_look_at_a_list_or_a_row_is_in_the_audit_trail(client, operator, model):
    client.force_login(operator)
    row = make_row(model)
    path = changelist_path(model)

    client.get(path, {"q": "needle"}, REMOTE_ADDR="203.0.113.9")
    client.get(f"{path}{row.pk}/change/", REMOTE_ADDR="203.0.113.9")

    listed, opened = AuditEvent.objects.filter(action="view", model=model._meta.label).order_by("pk")
    assert (listed.actor, listed.ip, listed.object_id) == (operator, "203.0.113.9", "")
    assert listed.changes == {"query": {"q": "needle"}, "rows": 0} and "q=needle" in listed.object_repr
    assert (opened.actor, opened.ip, opened.origin) == (operator, "203.0.113.9", f"GET {path}{row.pk}/change/")
    assert opened.object_id == (row.token_key if model is AuthToken else str(row.pk))
