import pytest

from accounts.models import WebhookToken
from tests.factories import UserFactory


@pytest.mark.django_db
def test_trader_gets_one_webhook_url_and_sees_the_same_one_again(api_client, alice):
    api_client.force_login(alice)

    first = api_client.get("/auth/webhook-token").json()
    again = api_client.get("/auth/webhook-token/").json()

    assert first["webhook_url"] == again["webhook_url"] == f"http://testserver/webhook/{first['token']}"
    assert first["token"].startswith("whk_") and len(first["token"]) >= 4 + 32
    assert WebhookToken.objects.filter(owner=alice).count() == 1


@pytest.mark.django_db
def test_webhook_token_is_stored_only_as_digest_and_ciphertext(api_client, alice):
    api_client.force_login(alice)
    token = api_client.get("/auth/webhook-token").json()["token"]

    row = WebhookToken.objects.get(owner=alice)

    assert token not in (row.digest, row.ciphertext)
    assert token[8:] not in row.digest + row.ciphertext + row.hint


@pytest.mark.django_db
def test_rotation_refuses_the_old_token_at_once(api_client, client, alice):
    api_client.force_login(alice)
    old = api_client.get("/auth/webhook-token").json()["token"]

    rotated = api_client.post("/auth/rotate-token")
    new = rotated.json()["token"]

    assert rotated.status_code == 200 and new != old
    assert client.post(f"/webhook/{old}", "{}", content_type="application/json").status_code == 404
    # The new one authenticates (and then says there is no account to trade on).
    assert client.post(f"/webhook/{new}", "{}", content_type="application/json").status_code == 400


@pytest.mark.django_db
def test_rotate_requires_post_and_sign_in(api_client, alice):
    assert api_client.post("/auth/rotate-token").status_code == 401
    api_client.force_login(alice)
    response = api_client.get("/auth/rotate-token")
    assert response.status_code == 405
    assert "detail" in response.json()
    assert not WebhookToken.objects.exists()


@pytest.mark.django_db
def test_session_rotate_without_csrf_token_is_refused(alice):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/auth/webhook-token")
    before = WebhookToken.objects.get(owner=alice).digest

    response = client.post("/auth/rotate-token")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert WebhookToken.objects.get(owner=alice).digest == before


@pytest.mark.django_db
def test_auth_status_reports_anonymous_and_signed_in(api_client, alice):
    assert api_client.get("/auth/status").json() == {"authenticated": False, "user": None}

    api_client.force_login(alice)
    body = api_client.get("/auth/status").json()

    assert body["authenticated"] is True
    assert body["user"]["username"] == "alice" and body["user"]["email"] == alice.email


@pytest.mark.django_db
def test_api_token_authenticates_scripts_and_is_stored_as_digest(api_client, alice):
    from knox.models import AuthToken

    from accounts.services import api_token_create

    key = api_token_create(user=alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    body = api_client.get("/auth/status").json()

    assert body["user"]["username"] == "alice"
    stored = AuthToken.objects.get(user=alice)
    assert key not in stored.digest and key.startswith("mt5_")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token ",
        "Token a b",
        "Token mt5_doesnotexist",
        "Bearer abc",
        "Token " + "x" * 5000,
        "Token \u00e9\u00e9",
    ],
)
def test_malformed_or_unknown_authorization_header_is_a_clear_4xx(api_client, alice, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get("/auth/webhook-token")

    assert response.status_code in (401, 403)
    assert response.json()["detail"]
    assert not WebhookToken.objects.exists()


@pytest.mark.django_db
def test_disabled_user_is_refused_on_api_webhook_and_session(api_client, client, alice):
    from accounts.services import api_token_create, webhook_token_reveal

    key = api_token_create(user=alice)
    token = webhook_token_reveal(user=alice)
    client.force_login(alice)
    alice.is_active = False
    alice.save()

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api = api_client.get("/auth/webhook-token")
    hook = client.post(f"/webhook/{token}", "{}", content_type="application/json")
    page = client.get("/")

    assert api.status_code == 403 and api.json()["detail"] == "This user is disabled."
    assert hook.status_code == 403 and hook.json()["detail"] == "This user is disabled."
    assert page.status_code == 302 and page["Location"].startswith("/login")


@pytest.mark.django_db
def test_legacy_webhook_token_maps_to_first_superuser(client, settings):
    UserFactory(username="later-admin", is_superuser=True, is_staff=True)
    settings.WEBHOOK_TOKEN = "legacy-single-user-token-value"

    known = client.post("/webhook/legacy-single-user-token-value", "{}", content_type="application/json")
    unknown = client.post("/webhook/legacy-single-user-token-valuX", "{}", content_type="application/json")

    assert known.status_code == 400  # authenticated; the operator has no accounts yet
    assert unknown.status_code == 404


@pytest.mark.django_db
def test_token_still_works_after_secret_key_rotation_with_fallback(client, settings, alice):
    from accounts.services import webhook_token_reveal

    token = webhook_token_reveal(user=alice)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-test-0123456789"
    settings.SECRET_KEY_FALLBACKS = [old_key]

    response = client.post(f"/webhook/{token}", "{}", content_type="application/json")

    assert response.status_code == 400
    settings.SECRET_KEY_FALLBACKS = []
    assert client.post(f"/webhook/{token}", "{}", content_type="application/json").status_code == 400
