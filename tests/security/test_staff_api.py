"""/api/admin/ asks what the admin asks for the same act: the Django model permission (view or
change of the user model, of hosts, of trading accounts), a superuser to touch a superuser,
and, for a session, a sign-in within ADMIN_REAUTH_MINUTES. An API key is not a session."""

import time

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.services import api_token_create
from terminals.models import TerminalHost, TradingAccount
from tests.conftest import PASSWORD
from tests.factories import TradingAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def staff(username: str = "clerk", *codenames: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def signed_in(user) -> APIClient:
    """A session from the sign-in page, as an operator's browser has one."""
    client = APIClient(enforce_csrf_checks=False)
    assert client.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture(autouse=True)
def _password_login(settings):
    settings.PASSWORD_LOGIN = True


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def account(alice):
    host = TerminalHost.objects.create(name="win-1", queue_name="win-1", kind="windows", online=True, capacity=5)
    TerminalHost.objects.create(name="win-2", queue_name="win-2", kind="windows", online=True, capacity=5)
    return TradingAccountFactory(owner=alice, host=host, kind="mt5")


def test_staff_without_permissions_can_neither_list_users_nor_disable_the_superuser(root):
    client = signed_in(staff())

    listed = client.get("/api/admin/users")
    one = client.get(f"/api/admin/users/{root.pk}")
    toggled = client.post(f"/api/admin/users/{root.pk}/toggle")

    assert listed.status_code == 403 and "view user" in listed.json()["detail"]
    assert one.status_code == 403
    assert toggled.status_code == 403 and "detail" in toggled.json()
    root.refresh_from_db()
    assert root.is_active


def test_viewing_users_needs_view_or_change_and_toggling_needs_change(alice):
    viewer, changer = staff("viewer", "view_user"), staff("changer", "change_user")

    as_viewer, as_changer = signed_in(viewer), signed_in(changer)
    listed = as_viewer.get("/api/admin/users")
    refused = as_viewer.post(f"/api/admin/users/{alice.pk}/toggle")
    alice.refresh_from_db()
    still_active = alice.is_active
    listed_by_changer = as_changer.get("/api/admin/users")  # the admin's view: view or change
    toggled = as_changer.post(f"/api/admin/users/{alice.pk}/toggle")

    assert listed.status_code == 200 and listed.json()["count"] == 3
    assert refused.status_code == 403 and "change user" in refused.json()["detail"]
    assert still_active
    assert listed_by_changer.status_code == 200
    assert toggled.status_code == 200 and toggled.json()["is_active"] is False


def test_only_a_superuser_disables_a_superuser_through_the_api_and_the_admin(client, root):
    changer = staff("changer", "change_user", "view_user")
    other_root = UserFactory(username="root2", is_staff=True, is_superuser=True)

    refused = signed_in(changer).post(f"/api/admin/users/{root.pk}/toggle")
    client.post("/login", {"username": "changer", "password": PASSWORD})
    client.post("/admin/accounts/user/", {"action": "disable_users", "_selected_action": [root.pk]})
    root.refresh_from_db()
    untouched = root.is_active
    by_root = signed_in(root).post(f"/api/admin/users/{other_root.pk}/toggle")

    assert refused.status_code == 403 and "superuser" in refused.json()["detail"]
    assert untouched
    assert by_root.status_code == 200 and by_root.json()["is_active"] is False


def test_hosts_and_assignments_need_the_admins_permissions_for_them(account):
    nobody = signed_in(staff("nobody"))
    viewer = signed_in(staff("viewer", "view_terminalhost", "view_tradingaccount"))
    mover = signed_in(staff("mover", "view_tradingaccount", "change_tradingaccount"))
    paths = ["/api/admin/hosts", "/api/admin/pool-agents", "/api/admin/assignments"]

    refused = {path: nobody.get(path).status_code for path in paths}
    allowed = {path: viewer.get(path).status_code for path in paths}
    move_refused = viewer.patch(f"/api/admin/assignments/{account.pk}/", {"host": "win-2"}, format="json")
    host_after_refusal = TradingAccount.objects.get(pk=account.pk).host.name
    moved = mover.patch(f"/api/admin/assignments/{account.pk}/", {"host": "win-2"}, format="json")

    assert refused == dict.fromkeys(paths, 403)
    assert allowed == dict.fromkeys(paths, 200)
    assert move_refused.status_code == 403 and host_after_refusal == "win-1"
    assert moved.status_code == 200 and TradingAccount.objects.get(pk=account.pk).host.name == "win-2"


def test_stats_are_the_overviews_figures_for_any_operator():
    # The admin's overview shows these figures to every operator, without a model permission.
    assert signed_in(staff()).get("/api/admin/stats").status_code == 200


def test_a_staff_session_signed_in_long_ago_is_asked_to_sign_in_again(root, alice, settings):
    client = signed_in(root)
    session = client.session
    session["signed_in_at"] = time.time() - settings.ADMIN_REAUTH_SECONDS - 1
    session.save()

    stale = {path: client.get(path) for path in ["/api/admin/users", "/api/admin/stats", "/api/admin/hosts"]}
    toggle = client.post(f"/api/admin/users/{alice.pk}/toggle")
    alice.refresh_from_db()
    own_data = client.get("/api/v1/accounts/")  # a trader's routes are not staff surfaces
    client.post("/login", {"username": "root", "password": PASSWORD})
    fresh = client.get("/api/admin/users")

    assert {path: answer.status_code for path, answer in stale.items()} == dict.fromkeys(stale, 403)
    assert all("Sign in again" in answer.json()["detail"] for answer in stale.values())
    assert toggle.status_code == 403 and alice.is_active
    assert own_data.status_code == 200
    assert fresh.status_code == 200


def test_a_session_without_a_sign_in_time_is_not_fresh(root):
    client = signed_in(root)
    session = client.session
    del session["signed_in_at"]
    session.save()

    assert client.get("/api/admin/users").status_code == 403


def test_an_operators_api_key_is_not_a_session_and_keeps_the_users_permissions(root, alice):
    key = api_token_create(user=root)
    clerk_key = api_token_create(user=staff())
    client = APIClient()

    by_root = client.get("/api/admin/users", HTTP_AUTHORIZATION=f"Token {key}")
    by_clerk = client.get("/api/admin/users", HTTP_AUTHORIZATION=f"Token {clerk_key}")

    assert by_root.status_code == 200
    assert by_clerk.status_code == 403


def test_every_staff_view_names_the_model_whose_permissions_it_asks():
    from tests.test_isolation import ALL_ROUTES, _drf_view, classify

    staff_views = {_drf_view(route.callback) for route in ALL_ROUTES if classify(route) == "staff"}

    assert len(staff_views) >= 5
    assert [view.__name__ for view in staff_views if not hasattr(view, "staff_model")] == []


def test_in_the_admin_only_a_superuser_changes_a_superuser_or_makes_one(client, root):
    changer = staff("changer", "view_user", "change_user", "delete_user")
    client.post("/login", {"username": "changer", "password": PASSWORD})
    form = {
        "username": "renamed",
        "name": "",
        "email": "changer@example.com",
        "picture_url": "",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }

    page = client.get(f"/admin/accounts/user/{root.pk}/change/")
    changed = client.post(f"/admin/accounts/user/{root.pk}/change/", form)
    deleted = client.post(f"/admin/accounts/user/{root.pk}/delete/", {"post": "yes"})
    promoted = client.post(f"/admin/accounts/user/{changer.pk}/change/", {**form, "username": "changer"})

    root.refresh_from_db()
    changer.refresh_from_db()
    assert page.status_code == 200 and 'name="username"' not in page.text  # read only
    assert changed.status_code == 403 and root.username == "root"
    assert deleted.status_code == 403 and root.is_active
    assert promoted.status_code == 302 and not changer.is_superuser
