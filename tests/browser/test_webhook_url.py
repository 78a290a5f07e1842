"""A trader signs in, finds their webhook URL on the dashboard and rotates it (docs/webhook.md)."""

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

NAVIGATION = ["Dashboard", "Accounts", "Copy trading", "History", "Alerts", "Settings"]


def post_alert(url: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=b'{"action": "buy", "symbol": "BTCUSD", "volume": 0.01}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_sign_in_and_rotate_webhook_url(page: Page, live_server, settings, tmp_path):
    settings.PASSWORD_LOGIN = True
    UserFactory(username="carol")

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    nav = page.get_by_role("navigation")
    for label in NAVIGATION:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()

    field = page.get_by_test_id("webhook-url")
    old_url = field.input_value()
    assert old_url.startswith(f"{live_server.url}/webhook/")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("rotate-webhook").click()
    expect(field).not_to_have_value(old_url)
    expect(page.get_by_role("status")).to_contain_text("The old one no longer works")
    new_url = field.input_value()
    assert new_url.startswith(f"{live_server.url}/webhook/")

    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0
    # Bootstrap's stylesheet loaded: the navbar is dark, not the browser's default white.
    assert page.locator("nav.navbar").evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    status, body = post_alert(old_url)
    assert status == 404, body
    status, body = post_alert(new_url)
    # The token authenticates; carol simply has no trading accounts yet.
    assert status == 400, body
    assert "no trading accounts" in json.dumps(body)
