"""Two-factor sign-in (allauth.mfa) and the staff rule (STAFF_MFA_REQUIRED): a code after the
password, wrong codes counted by the lockout, recovery codes once each, and the admin and
/api/admin/ refusing a staff session signed in without a second factor."""

import time

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from axes.models import AccessAttempt

from tests.conftest import PASSWORD
from tests.factories import UserFactory

SECRET = generate_totp_secret()


def totp_code(secret: str = SECRET, *, step: int = 0) -> str:
    """The code an authenticator app shows now, computed as allauth checks it."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


@pytest.fixture
def staff_with_totp(db, settings):
    settings.PASSWORD_LOGIN = True
    settings.STAFF_MFA_REQUIRED = True
    user = UserFactory(username="op-mfa", is_staff=True, is_superuser=True)
    TOTP.activate(user, SECRET)
    return user


def password_step(client, username: str = "op-mfa", next_url: str = "/admin/"):
    return client.post(f"/login?next={next_url}", {"username": username, "password": PASSWORD})


def test_a_password_alone_leads_to_the_code_step_and_signs_nobody_in(client, staff_with_totp):
    response = password_step(client)

    assert response.status_code == 302 and response["Location"] == "/oauth/2fa/authenticate/"
    assert client.get("/auth/status").json()["authenticated"] is False


def test_the_code_completes_the_sign_in_and_opens_the_admin_and_staff_api(client, staff_with_totp):
    password_step(client)

    response = client.post("/oauth/2fa/authenticate/", {"code": totp_code()})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/admin/users/").status_code == 200


def test_a_staff_session_without_a_second_factor_is_refused_with_the_way_to_enrol(client, db, settings):
    settings.PASSWORD_LOGIN = True
    settings.STAFF_MFA_REQUIRED = True
    UserFactory(username="op-plain", is_staff=True, is_superuser=True)
    assert password_step(client, "op-plain")["Location"] == "/admin/"  # signed in: no authenticator yet

    admin = client.get("/admin/")
    api = client.get("/api/admin/users/")

    assert admin.status_code == 403 and 'href="/oauth/2fa/"' in admin.text
    assert api.status_code == 403 and "/oauth/2fa/" in api.json()["detail"]
    assert client.get("/oauth/2fa/").status_code == 200  # the page it names opens


def test_without_the_rule_a_password_session_is_enough(client, db, settings):
    settings.PASSWORD_LOGIN = True
    settings.STAFF_MFA_REQUIRED = False
    UserFactory(username="op-plain", is_staff=True, is_superuser=True)
    password_step(client, "op-plain")

    assert client.get("/admin/").status_code == 200
    assert client.get("/api/admin/users/").status_code == 200


def test_a_google_sign_in_counts_as_a_second_factor(client, db, settings):
    settings.STAFF_MFA_REQUIRED = True
    operator = UserFactory(username="op-google", is_staff=True, is_superuser=True)
    client.force_login(operator)
    # What allauth's Google sign-in leaves in the session (socialaccount's record_authentication).
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "socialaccount", "at": time.time(), "provider": "google", "uid": "1"}
    ]
    session["account_authentication_methods_user"] = str(operator.pk)
    session.save()

    assert client.get("/admin/").status_code == 200
    assert client.get("/api/admin/users/").status_code == 200


def test_wrong_codes_count_in_the_lockout_like_wrong_passwords(client, staff_with_totp, settings):
    settings.AXES_FAILURE_LIMIT = 3
    password_step(client)

    statuses = [client.post("/oauth/2fa/authenticate/", {"code": wrong}).status_code for wrong in ("0", "1", "2")]

    # Two form errors, then the failure that reaches the limit gets the lockout page.
    assert statuses == [200, 200, 429]
    attempts = AccessAttempt.objects.filter(username="op-mfa")
    assert sum(attempt.failures_since_start for attempt in attempts) == 3
    # Locked out: the right code is refused now, and so is the password.
    locked = client.post("/oauth/2fa/authenticate/", {"code": totp_code()})
    assert "Too many failed sign-ins" in locked.text
    assert client.get("/auth/status").json()["authenticated"] is False
    assert password_step(client).status_code == 429


def test_a_code_used_once_is_refused_the_second_time(client, staff_with_totp):
    code = totp_code()
    password_step(client)
    assert client.post("/oauth/2fa/authenticate/", {"code": code}).status_code == 302
    client.post("/logout")

    password_step(client)
    again = client.post("/oauth/2fa/authenticate/", {"code": code})

    assert again.status_code == 200 and client.get("/auth/status").json()["authenticated"] is False
    assert AccessAttempt.objects.filter(username="op-mfa").exists()  # counted as a failure


def test_a_recovery_code_signs_in_once(client, staff_with_totp):
    recovery = RecoveryCodes.activate(staff_with_totp).get_unused_codes()[0]
    password_step(client)
    assert client.post("/oauth/2fa/authenticate/", {"code": recovery}).status_code == 302
    assert client.get("/admin/").status_code == 200
    client.post("/logout")

    password_step(client)
    again = client.post("/oauth/2fa/authenticate/", {"code": recovery})

    assert again.status_code == 200 and client.get("/auth/status").json()["authenticated"] is False
