"""Password sign-in under attack: lockouts per username and per address, unlock by an
operator, sessions renewed and ending, and a fresh sign-in for the admin."""

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _password_login(settings):
    settings.PASSWORD_LOGIN = True
    settings.AXES_FAILURE_LIMIT = 5


def sign_in(client: Client, username: str, password: str, ip: str = "198.51.100.1", **extra):
    return client.post("/login", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def signed_in(client: Client) -> bool:
    return client.get("/auth/status").json()["authenticated"]


def test_attacker_guessing_one_users_password_from_many_addresses_is_locked_out(client, alice):
    failures = [sign_in(client, "alice", f"guess-{n}", ip=f"203.0.113.{n}").status_code for n in range(5)]

    locked = sign_in(client, "alice", PASSWORD, ip="203.0.113.99")

    assert failures == [200] * 4 + [429]  # the form again with its error, then the lockout
    assert locked.status_code == 429 and 'data-testid="locked"' in locked.text
    assert int(locked["Retry-After"]) > 0
    assert not signed_in(client)


def test_credential_stuffing_from_one_address_locks_that_address_only(client, alice, bob):
    for n in range(5):
        sign_in(client, f"leaked-user-{n}", "leaked-password", ip="203.0.113.7")

    from_stuffer = sign_in(client, "alice", PASSWORD, ip="203.0.113.7")
    elsewhere = sign_in(Client(), "bob", PASSWORD, ip="198.51.100.20")

    assert from_stuffer.status_code == 429
    assert not signed_in(client)
    assert elsewhere.status_code == 302


def test_lockout_page_does_not_echo_the_password_tried(client, alice):
    for n in range(6):
        response = sign_in(client, "alice", f"secret-guess-{n}-<b>", ip="203.0.113.5")

    assert response.status_code == 429
    assert "secret-guess" not in response.text


def test_operator_unlocks_a_user_in_the_admin(client, alice, operator):
    for n in range(5):
        sign_in(client, "alice", f"guess-{n}", ip=f"203.0.113.{n}")
    assert sign_in(Client(), "alice", PASSWORD, ip="198.51.100.30").status_code == 429
    admin = Client()
    assert sign_in(admin, "operator", PASSWORD, ip="198.51.100.2").status_code == 302
    attempts = list(AccessAttempt.objects.filter(username="alice").values_list("pk", flat=True))
    listing = admin.get("/admin/axes/accessattempt/")

    unlocked = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert listing.status_code == 200 and "alice" in listing.text
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert sign_in(Client(), "alice", PASSWORD, ip="198.51.100.30").status_code == 302


def test_sign_in_renews_the_session_key(client, alice):
    client.get("/login")  # an anonymous session, as a planted cookie would be
    session = client.session
    session["planted"] = "x"
    session.save()
    before = client.cookies["sessionid"].value

    sign_in(client, "alice", PASSWORD)

    assert client.cookies["sessionid"].value != before
    assert not Session.objects.filter(session_key=before).exists()
    assert signed_in(client)


def test_session_ends_after_session_hours(client, alice, settings):
    response = sign_in(client, "alice", PASSWORD)
    assert int(response.cookies["sessionid"]["max-age"]) == settings.SESSION_COOKIE_AGE <= 24 * 3600

    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() - timezone.timedelta(seconds=1)
    )

    assert not signed_in(client)


def test_staff_sign_in_again_before_the_admin_after_a_while(client, operator, settings):
    sign_in(client, "operator", PASSWORD)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session["signed_in_at"] = time.time() - settings.ADMIN_REAUTH_SECONDS - 1
    session.save()

    stale = client.get("/admin/accounts/user/")
    form = client.get(stale["Location"])
    change = client.post(f"/admin/accounts/user/{operator.pk}/change/", {"username": "renamed"})
    again = sign_in(client, "operator", PASSWORD)

    assert stale.status_code == 302 and stale["Location"] == "/login?next=%2Fadmin%2Faccounts%2Fuser%2F"
    assert form.status_code == 200 and 'name="password"' in form.text  # the form, not a redirect loop
    assert change.status_code == 302 and change["Location"].startswith("/login")
    operator.refresh_from_db()
    assert operator.username == "operator"
    assert again.status_code == 302
    assert client.get("/admin/accounts/user/").status_code == 200


def test_traders_pages_do_not_ask_for_a_fresh_sign_in(client):
    trader = UserFactory()
    client.force_login(trader)

    assert client.get("/settings").status_code == 200
