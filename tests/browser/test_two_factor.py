"""Two-factor sign-in in chromium: a trader turns on an authenticator app from Settings (the QR
code a data: URL under the CSP), signs out, and signs in again with password and code; an
operator without a second factor is sent to enrol by the admin."""

import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def code_for(secret: str, *, step: int = 0) -> str:
    """What an authenticator app shows, computed as allauth checks it."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


def password_step(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()


def test_enrol_an_authenticator_then_sign_in_with_its_code(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    settings.MFA_TOTP_TOLERANCE = 1  # the next period's code too: no wait for the clock
    UserFactory(username="erin-2fa")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    base = live_server.url
    password_step(page, base, "erin-2fa")
    expect(page).to_have_url(f"{base}/")  # no authenticator yet: the password signs in

    page.goto(f"{base}/settings")
    page.get_by_test_id("two-factor").click()
    page.get_by_role("link", name="Activate").first.click()
    # allauth asks for the password again before changing how the account signs in.
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    qr = page.locator("img[src^='data:image/svg+xml']")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.naturalWidth") > 0  # rendered, not blocked by the CSP
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(code_for(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Authenticator app activated")).to_be_visible()

    page.goto(f"{base}/settings")
    page.get_by_role("button", name="Sign out").click()
    password_step(page, base, "erin-2fa")
    expect(page).to_have_url(f"{base}/oauth/2fa/authenticate/")
    # The code of the next period: the one used to activate may not be used twice.
    page.get_by_placeholder("Code").fill(code_for(secret, step=1))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/")
    assert [text for text in console if "Content Security Policy" in text] == []


def test_an_operator_without_a_second_factor_is_sent_to_enrol(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    settings.STAFF_MFA_REQUIRED = True
    UserFactory(username="op-no-2fa", is_staff=True, is_superuser=True)
    password_step(page, live_server.url, "op-no-2fa")

    response = page.goto(f"{live_server.url}/admin/")

    assert response.status == 403
    expect(page.get_by_test_id("second-factor-required")).to_contain_text("authenticator app")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page).to_have_url(f"{live_server.url}/oauth/2fa/")
