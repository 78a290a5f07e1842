"""Operators: the Django admin and /api/admin/*."""

import pytest

from accounts.models import User
from accounts.services import api_token_create, webhook_token_reveal
from tests.factories import UserFactory


@pytest.mark.django_db
def test_operator_searches_and_filters_users_in_admin(client, operator):
    UserFactory(username="zed-searchable", is_active=False)
    UserFactory(username="other-user")
    client.force_login(operator)

    found = client.get("/admin/accounts/user/", {"q": "zed-search"})
    disabled = client.get("/admin/accounts/user/", {"is_active__exact": "0"})

    assert "zed-searchable" in found.text and "other-user" not in found.text
    assert "zed-searchable" in disabled.text and "other-user" not in disabled.text


@pytest.mark.django_db
def test_operator_disables_and_enables_users_with_admin_actions(client, operator, alice):
    client.force_login(operator)

    client.post("/admin/accounts/user/", {"action": "disable_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert alice.is_active is False

    client.post("/admin/accounts/user/", {"action": "enable_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert alice.is_active is True


@pytest.mark.django_db
def test_operator_cannot_disable_themselves(client, operator):
    client.force_login(operator)

    response = client.post(
        "/admin/accounts/user/", {"action": "disable_users", "_selected_action": [operator.pk]}, follow=True
    )

    operator.refresh_from_db()
    assert operator.is_active is True
    assert "You cannot disable your own account." in response.text


@pytest.mark.django_db
def test_admin_pages_show_tokens_masked_never_in_full(client, operator, alice):
    token = webhook_token_reveal(user=alice)
    key = api_token_create(user=alice)
    client.force_login(operator)

    pages = [
        client.get("/admin/accounts/webhooktoken/").text,
        client.get(f"/admin/accounts/webhooktoken/{alice.webhook_token.pk}/change/").text,
        client.get("/admin/knox/authtoken/").text,
        client.get(f"/admin/accounts/user/{alice.pk}/change/").text,
    ]

    assert token[:8] + "…" in pages[0]
    for page in pages:
        assert token not in page and token[8:20] not in page
        assert key not in page and key[8:20] not in page
    assert client.get("/admin/accounts/webhooktoken/add/").status_code == 403


@pytest.mark.django_db
def test_operator_rotates_a_token_from_admin(client, operator, alice):
    token = webhook_token_reveal(user=alice)
    client.force_login(operator)

    client.post("/admin/accounts/webhooktoken/", {"action": "rotate", "_selected_action": [alice.webhook_token.pk]})

    assert webhook_token_reveal(user=alice) != token
    assert client.post(f"/webhook/{token}", "{}", content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_staff_api_lists_users_paginated_and_filtered(api_client, operator, alice, bob):
    bob.is_active = False
    bob.save()
    api_client.force_login(operator)

    everyone = api_client.get("/api/admin/users").json()
    disabled = api_client.get("/api/admin/users/", {"is_active": "false"}).json()
    searched = api_client.get("/api/admin/users", {"search": "alic"}).json()

    assert set(everyone) == {"count", "next", "previous", "results"}
    assert everyone["count"] == 3
    assert [u["username"] for u in disabled["results"]] == ["bob"]
    assert [u["username"] for u in searched["results"]] == ["alice"]
    assert "password" not in everyone["results"][0]


@pytest.mark.django_db
def test_staff_api_toggle_disables_and_the_user_is_refused(api_client, client, operator, alice):
    key = api_token_create(user=alice)
    api_client.force_login(operator)

    response = api_client.post(f"/api/admin/users/{alice.pk}/toggle")

    assert response.status_code == 200 and response.json()["is_active"] is False
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    assert client.get("/auth/webhook-token").status_code == 403
    assert api_client.post(f"/api/admin/users/{alice.pk}/toggle/").json()["is_active"] is True


@pytest.mark.django_db
def test_staff_api_toggle_of_self_is_400_and_unknown_user_404(api_client, operator):
    api_client.force_login(operator)

    self_toggle = api_client.post(f"/api/admin/users/{operator.pk}/toggle")
    missing = api_client.post("/api/admin/users/999999/toggle")

    assert self_toggle.status_code == 400 and self_toggle.json()["detail"] == "You cannot disable your own account."
    assert missing.status_code == 404
    assert User.objects.get(pk=operator.pk).is_active


@pytest.mark.django_db
def test_stats_counts_users_and_traders_get_403(api_client, operator, alice, bob):
    bob.is_active = False
    bob.save()

    api_client.force_login(alice)
    refused = api_client.get("/api/admin/stats")
    api_client.force_login(operator)
    stats = api_client.get("/api/admin/stats").json()

    assert refused.status_code == 403 and refused.json() == {"detail": "Operators only."}
    assert stats["users"] == 3 and stats["active_users"] == 2
