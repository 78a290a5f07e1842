"""Google sign-in end to end: our pages, allauth and a stand-in Google on loopback.

Nothing in allauth or our adapter is mocked. Google's three endpoints (authorize,
token, userinfo) are served by a small HTTP server on 127.0.0.1, and allauth's
Google adapter is pointed at it; the browser's trip to Google is made with
`requests`, the rest with Django's test client.
"""

import base64
import copy
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory

CLIENT_ID = "test-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"
ISSUER = "https://accounts.google.com"
CALLBACK_URL = "http://testserver/oauth/google/login/callback/"


@dataclass
class FakeGoogle:
    """What the stand-in Google knows: the identity it signs in, and what it was sent."""

    url: str = ""
    identity: dict = field(
        default_factory=lambda: {
            "sub": "109876543210987654321",
            "email": "ada@example.test",
            "email_verified": True,
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "picture": "https://lh3.googleusercontent.com/a/ada-1",
        }
    )
    # code -> the authorize request's parameters (code_challenge among them)
    codes: dict = field(default_factory=dict)
    authorize_requests: list = field(default_factory=list)
    token_requests: list = field(default_factory=list)

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            **self.identity,
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "azp": CLIENT_ID,
            "iat": now,
            "exp": now + 3600,
        }
        # allauth skips the signature check for a token it fetched itself over the back
        # channel, so any key will do; iss, aud and exp are still checked.
        return jwt.encode(claims, "not-googles-key-" + "x" * 32, algorithm="HS256")


def _handler(google: FakeGoogle):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def _send_json(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/authorize":
                # The user consents at once: back to the app with a one-time code.
                google.authorize_requests.append(query)
                code = secrets.token_urlsafe(16)
                google.codes[code] = query
                location = f"{query['redirect_uri']}?{urlencode({'state': query.get('state', ''), 'code': code})}"
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/userinfo":
                self._send_json(200, {"id": google.identity["sub"], **google.identity})
            else:
                self._send_json(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send_json(404, {"error": "not_found"})
                return
            google.token_requests.append(form)
            issued = google.codes.pop(form.get("code", ""), None)
            if (
                issued is None
                or form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != issued["redirect_uri"]
                or form.get("grant_type") != "authorization_code"
            ):
                self._send_json(400, {"error": "invalid_grant"})
                return
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if issued.get("code_challenge_method") != "S256" or challenge != issued.get("code_challenge"):
                self._send_json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                return
            self._send_json(
                200,
                {
                    "access_token": "ya29.fake-" + secrets.token_urlsafe(8),
                    "expires_in": 3599,
                    "token_type": "Bearer",
                    "scope": "openid profile email",
                    "id_token": google.id_token(),
                },
            )

    return Handler


@pytest.fixture
def fake_google():
    google = FakeGoogle()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(google))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    google.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield google
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _google_apps(settings, apps: list) -> None:
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["google"]["APPS"] = apps
    settings.SOCIALACCOUNT_PROVIDERS = providers


@pytest.fixture
def google(db, settings, monkeypatch, fake_google) -> FakeGoogle:
    """Google configured through settings, its endpoints on the local stand-in."""
    _google_apps(settings, [{"client_id": CLIENT_ID, "secret": CLIENT_SECRET, "key": ""}])
    settings.ADMIN_EMAIL = ""
    # allauth reads these URLs into module constants at import time, so the settings
    # fixture cannot reach them; the adapter's class attributes can.
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{fake_google.url}/authorize")
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{fake_google.url}/token")
    monkeypatch.setattr(GoogleOAuth2Adapter, "identity_url", f"{fake_google.url}/userinfo")
    return fake_google


@pytest.fixture
def no_google(db, settings):
    _google_apps(settings, [])
    SocialApp.objects.filter(provider="google").delete()


@pytest.fixture
def visitor() -> Client:
    # CSRF enforced, as for a real browser: the Google button's form must carry its token.
    return Client(enforce_csrf_checks=True)


def _google_form(html: str) -> tuple[str, str]:
    """The action and CSRF token of the login page's Google form."""
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', html, re.S)
    assert form, "no Google sign-in form on the page"
    assert 'data-testid="google-login"' in form.group(2)
    assert "Sign in with Google" in form.group(2)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(2))
    assert csrf, "the Google form carries no CSRF token"
    return form.group(1), csrf.group(1)


def _start(visitor: Client, google: FakeGoogle) -> dict:
    """Press "Sign in with Google" on /login; returns the authorize request's query."""
    page = visitor.get("/login")
    assert page.status_code == 200
    action, csrf = _google_form(page.content.decode())
    assert action == "/oauth/google/login/"

    response = visitor.post(action, {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{google.url}/authorize"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _consent(google: FakeGoogle, query: dict) -> str:
    """The browser at Google: the user consents; returns where Google sends them back to."""
    response = requests.get(f"{google.url}/authorize", params=query, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    return response.headers["Location"]


def _callback(visitor: Client, location: str):
    url = urlsplit(location)
    assert f"{url.scheme}://{url.netloc}{url.path}" == CALLBACK_URL
    return visitor.get(url.path, parse_qs(url.query))


def _sign_in(visitor: Client, google: FakeGoogle):
    return _callback(visitor, _consent(google, _start(visitor, google)))


def _log_out(visitor: Client) -> None:
    response = visitor.post("/logout", {"csrfmiddlewaretoken": visitor.cookies["csrftoken"].value})
    assert response.status_code == 302
    assert _status(visitor)["authenticated"] is False


def _status(visitor: Client) -> dict:
    response = visitor.get("/auth/status")
    assert response.status_code == 200
    return response.json()


def test_login_page_offers_google_when_configured(visitor, google):
    page = visitor.get("/login")

    assert page.status_code == 200
    html = page.content.decode()
    _google_form(html)
    assert 'data-testid="google-hint"' not in html
    assert re.search(r'<button[^>]*data-testid="google-login"[^>]*>', html).group(0).count("disabled") == 0


def test_sign_in_button_sends_the_browser_to_google_with_state_and_pkce(visitor, google):
    query = _start(visitor, google)

    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK_URL
    assert query["response_type"] == "code"
    assert set(query["scope"].split()) == {"profile", "email"}
    assert len(query["state"]) >= 12
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert google.token_requests == []  # nothing exchanged before the user comes back


def test_sign_in_link_alone_does_not_start_a_sign_in(visitor, google):
    # SOCIALACCOUNT_LOGIN_ON_GET is off: a GET shows allauth's confirmation page instead.
    response = visitor.get("/oauth/google/login/")

    assert response.status_code == 200
    assert not response.has_header("Location")
    assert google.authorize_requests == []


def test_first_google_sign_in_creates_and_signs_in_the_user(visitor, google):
    query = _start(visitor, google)
    location = _consent(google, query)
    code = parse_qs(urlsplit(location).query)["code"][0]

    response = _callback(visitor, location)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert visitor.get(response["Location"]).status_code == 200  # the dashboard, signed in

    status = _status(visitor)
    assert status["authenticated"] is True
    assert status["user"]["email"] == "ada@example.test"
    assert status["user"]["name"] == "Ada Lovelace"
    assert status["user"]["picture_url"] == "https://lh3.googleusercontent.com/a/ada-1"
    assert status["user"]["is_staff"] is False

    user = User.objects.get()
    assert (user.email, user.name, user.picture_url) == (
        "ada@example.test",
        "Ada Lovelace",
        "https://lh3.googleusercontent.com/a/ada-1",
    )
    assert not user.has_usable_password()
    assert not user.is_superuser and not user.is_staff
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("google", google.identity["sub"])

    # The code was exchanged once, with the verifier matching the challenge sent out.
    [exchange] = google.token_requests
    assert exchange["code"] == code
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == CALLBACK_URL
    assert exchange["client_id"] == CLIENT_ID
    verifier = exchange["code_verifier"]
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == query["code_challenge"]


def test_next_sign_in_refreshes_name_and_picture_without_a_second_user(visitor, google):
    assert _sign_in(visitor, google)["Location"] == "/"
    _log_out(visitor)

    google.identity.update(name="Augusta Ada King", picture="https://lh3.googleusercontent.com/a/ada-2")
    again = Client(enforce_csrf_checks=True)
    response = _sign_in(again, google)

    assert response.status_code == 302 and response["Location"] == "/"
    status = _status(again)
    assert status["authenticated"] is True
    assert status["user"]["name"] == "Augusta Ada King"
    assert status["user"]["picture_url"] == "https://lh3.googleusercontent.com/a/ada-2"
    user = User.objects.get()
    assert (user.name, user.picture_url) == ("Augusta Ada King", "https://lh3.googleusercontent.com/a/ada-2")
    assert SocialAccount.objects.count() == 1
    assert len(google.token_requests) == 2


@pytest.mark.parametrize(
    ("typed_by_operator", "sent_by_google"),
    [
        ("ada@example.test", "ada@example.test"),
        ("Ada@Example.test", "ada@example.test"),
        ("ada@example.test", "Ada@Example.TEST"),
    ],
    ids=["same", "operator-typed-capitals", "google-sent-capitals"],
)
def test_google_sign_in_joins_an_operator_created_by_hand(visitor, google, typed_by_operator, sent_by_google):
    made_by_hand = UserFactory(username="ada", email=typed_by_operator, name="")
    google.identity["email"] = sent_by_google

    response = _sign_in(visitor, google)

    assert response.status_code == 302 and response["Location"] == "/"
    assert _status(visitor)["user"]["id"] == made_by_hand.pk
    assert User.objects.count() == 1
    made_by_hand.refresh_from_db()
    assert (made_by_hand.name, made_by_hand.picture_url) == (
        "Ada Lovelace",
        "https://lh3.googleusercontent.com/a/ada-1",
    )
    assert SocialAccount.objects.get().user == made_by_hand


def test_admin_email_is_made_superuser_on_first_sign_in(visitor, google, settings):
    settings.ADMIN_EMAIL = "ada@example.test"
    google.identity["email"] = "Ada@Example.test"  # Google's spelling need not be lower case

    response = _sign_in(visitor, google)

    assert response.status_code == 302 and response["Location"] == "/"
    status = _status(visitor)
    assert status["authenticated"] is True and status["user"]["is_staff"] is True
    user = User.objects.get()
    assert user.is_superuser and user.is_staff
    assert visitor.get("/api/admin/stats").status_code == 200


@pytest.mark.parametrize(
    ("email", "verified"),
    [("grace@example.test", True), ("ada@example.test", False)],
    ids=["another-address", "unverified-admin-address"],
)
def test_other_addresses_are_not_made_superuser(visitor, google, settings, email, verified):
    settings.ADMIN_EMAIL = "ada@example.test"
    google.identity.update(email=email, email_verified=verified, sub=f"sub-{email}-{verified}")

    response = _sign_in(visitor, google)

    assert response.status_code == 302 and response["Location"] == "/"
    status = _status(visitor)
    assert status["authenticated"] is True and status["user"]["is_staff"] is False
    user = User.objects.get()
    assert not user.is_superuser and not user.is_staff
    assert visitor.get("/api/admin/stats").status_code == 403


def _assert_login_failure(response) -> None:
    # allauth's own error page, answered with 401.
    assert response.status_code == 401
    assert "Third-Party Login Failure" in response.content.decode()


def _assert_refused(visitor: Client, response, google: FakeGoogle) -> None:
    _assert_login_failure(response)
    assert google.token_requests == []  # the code was never exchanged
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()
    assert _status(visitor)["authenticated"] is False


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(lambda real: "forged" + real[6:], id="forged"),
        pytest.param(lambda real: None, id="missing"),
        pytest.param(lambda real: "", id="empty"),
    ],
)
def test_callback_with_a_bad_state_signs_nobody_in(visitor, google, state):
    query = _start(visitor, google)
    location = urlsplit(_consent(google, query))
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    code = params["code"]
    if (value := state(params["state"])) is None:
        del params["state"]
    else:
        params["state"] = value

    response = visitor.get(location.path, params)

    _assert_refused(visitor, response, google)
    assert code in google.codes  # still unused at Google


def test_callback_replayed_in_another_browser_signs_nobody_in(visitor, google):
    # Login CSRF: an attacker's own code and state, planted in the victim's visitor.
    location = _consent(google, _start(visitor, google))
    victim = Client(enforce_csrf_checks=True)

    response = _callback(victim, location)

    _assert_refused(victim, response, google)


def test_callback_state_is_good_for_one_use_only(visitor, google):
    location = _consent(google, _start(visitor, google))
    assert _callback(visitor, location)["Location"] == "/"
    _log_out(visitor)

    replay = _callback(visitor, location)

    _assert_login_failure(replay)
    assert len(google.token_requests) == 1
    assert _status(visitor)["authenticated"] is False
    assert User.objects.count() == 1


def test_login_page_without_google_shows_a_disabled_button_and_the_hint(client, no_google):
    page = client.get("/login")

    assert page.status_code == 200
    html = page.content.decode()
    button = re.search(r'<button[^>]*data-testid="google-login"[^>]*>', html).group(0)
    assert "disabled" in button
    assert 'action="/oauth/google/login/"' not in html
    hint = re.search(r'data-testid="google-hint"[^>]*>([^<]*)<', html)
    assert hint and "GOOGLE_CLIENT_ID" in hint.group(1) and "GOOGLE_CLIENT_SECRET" in hint.group(1)


def test_google_sign_in_without_google_sends_people_back_to_login(visitor, no_google):
    page = visitor.get("/login")
    csrf = visitor.cookies["csrftoken"].value

    started = visitor.post("/oauth/google/login/", {"csrfmiddlewaretoken": csrf})
    callback = visitor.get("/oauth/google/login/callback/", {"code": "x", "state": "y"})

    assert page.status_code == 200
    assert (started.status_code, started["Location"]) == (302, "/login")
    assert (callback.status_code, callback["Location"]) == (302, "/login")
    assert "Google sign-in is not set up on this server." in visitor.get("/login").content.decode()
    assert _status(visitor)["authenticated"] is False
    assert not User.objects.exists()


@pytest.mark.parametrize("how", ["linked-then-disabled", "disabled-operator-by-email"])
def test_disabled_user_is_not_signed_in_by_google(visitor, google, how):
    if how == "linked-then-disabled":
        assert _sign_in(visitor, google)["Location"] == "/"
        _log_out(visitor)
        User.objects.update(is_active=False)
    else:
        UserFactory(username="ada", email="ada@example.test", is_active=False)
    visitor = Client(enforce_csrf_checks=True)

    response = _sign_in(visitor, google)

    assert response.status_code != 500
    assert response.status_code == 302 and response["Location"] == "/oauth/inactive/"
    assert _status(visitor)["authenticated"] is False
    assert visitor.get("/").status_code == 302  # the dashboard sends them to /login
    assert User.objects.count() == 1
