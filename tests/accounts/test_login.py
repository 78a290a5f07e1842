import pytest


@pytest.mark.django_db
def test_login_page_offers_password_form_only_when_enabled(client, settings):
    settings.PASSWORD_LOGIN = False
    off = client.get("/login").text
    settings.PASSWORD_LOGIN = True
    on = client.get("/login").text

    assert 'name="password"' not in off and 'name="password"' in on


@pytest.mark.django_db
def test_google_button_is_disabled_with_a_hint_without_credentials(client):
    page = client.get("/login").text

    assert 'data-testid="google-login">Sign in with Google' in page and "disabled" in page
    assert "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET" in page


@pytest.mark.django_db
def test_password_sign_in_lands_on_the_dashboard_with_the_webhook_url(client, settings, alice):
    settings.PASSWORD_LOGIN = True

    response = client.post("/login", {"username": "alice", "password": "correct horse battery staple"}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert 'data-testid="webhook-url"' in response.text and "/webhook/whk_" in response.text


@pytest.mark.django_db
def test_password_sign_in_is_refused_when_switched_off(client, settings, alice):
    settings.PASSWORD_LOGIN = False

    response = client.post("/login", {"username": "alice", "password": "correct horse battery staple"})

    assert response.status_code == 403
    assert "Password sign-in is switched off" in response.text
    assert client.get("/auth/status").json()["authenticated"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/oauth/login/", "/oauth/signup/"])
def test_other_password_forms_lead_to_the_one_sign_in_page(client, path):
    response = client.get(path, {"next": "/admin/"})

    assert response.status_code == 302 and response["Location"] == "/login?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_wrong_password_is_a_form_error(client, settings, alice):
    settings.PASSWORD_LOGIN = True

    response = client.post("/login", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


@pytest.mark.django_db
def test_sign_in_rotates_the_session_key(client, settings, alice):
    settings.PASSWORD_LOGIN = True
    client.get("/login")
    client.cookies["sessionid"] = "attacker-fixed-session-key"

    client.post("/login", {"username": "alice", "password": "correct horse battery staple"})

    assert client.cookies["sessionid"].value != "attacker-fixed-session-key"


@pytest.mark.django_db
def test_logout_is_post_only_and_ends_the_session(client, alice):
    client.force_login(alice)

    assert client.get("/logout").status_code == 405
    response = client.post("/logout")

    assert response.status_code == 302 and response["Location"] == "/login"
    assert client.get("/auth/status").json()["authenticated"] is False


@pytest.mark.django_db
def test_pages_need_sign_in_and_show_the_navigation(client, alice):
    assert client.get("/settings")["Location"] == "/login?next=/settings"
    client.force_login(alice)

    for path in ["/", "/accounts", "/copy", "/history", "/journal/", "/alerts", "/settings"]:
        page = client.get(path).text
        for label in ["Dashboard", "Accounts", "Copy trading", "History", "Journal", "Alerts", "Settings"]:
            assert f">{label}</a>" in page, (path, label)


@pytest.mark.django_db
def test_settings_page_creates_shows_once_and_revokes_api_keys(client, alice):
    from knox.models import AuthToken

    client.force_login(alice)
    shown = client.post("/settings/api-tokens", follow=True).text
    key = shown.split('data-testid="new-api-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    again = client.get("/settings").text

    assert key.startswith("mt5_") and key not in again
    assert client.get("/auth/status", headers={"Authorization": f"Token {key}"}).json()["authenticated"]
    token_key = AuthToken.objects.get(user=alice).token_key
    client.post(f"/settings/api-tokens/{token_key}/revoke")
    assert not AuthToken.objects.filter(user=alice).exists()
    assert client.post(f"/settings/api-tokens/{token_key}/revoke").status_code == 404


@pytest.mark.django_db
def test_htmx_rotate_returns_the_new_url_fragment(client, alice):
    from accounts.services import webhook_token_reveal

    old = webhook_token_reveal(user=alice)
    client.force_login(alice)

    response = client.post("/settings/webhook-token/rotate", headers={"HX-Request": "true"})

    new = webhook_token_reveal(user=alice)
    assert new != old and new in response.text and "<nav" not in response.text


@pytest.mark.django_db
def test_disabled_user_cannot_sign_in_with_password(client, settings, alice):
    settings.PASSWORD_LOGIN = True
    alice.is_active = False
    alice.save()

    response = client.post("/login", {"username": "alice", "password": "correct horse battery staple"})

    assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    assert client.get("/auth/status").json()["authenticated"] is False


@pytest.mark.django_db
def test_form_post_without_csrf_token_is_a_clear_403(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    page = client.post("/settings/webhook-token/rotate")
    api = client.post("/logout", headers={"Accept": "application/json"})

    assert page.status_code == 403 and "This form has expired" in page.text
    assert api.status_code == 403 and api.json()["detail"].startswith("This form has expired")
    assert client.get("/auth/status").json()["authenticated"] is True
