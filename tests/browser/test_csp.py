"""Chromium enforces the Content Security Policy: every page works and reports no violation,
and the XSS payload a trader stored in a nickname stays text."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.factories import TradingAccountFactory, UserFactory

pytestmark = pytest.mark.browser

PAGES = ["/", "/accounts", "/copy", "/history", "/alerts", "/settings", "/api/docs/"]


def test_pages_run_under_the_csp_with_no_violation(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    carol = UserFactory(username="carol-csp")
    TradingAccountFactory(owner=carol, nickname='<img src=x onerror="document.title=1">')
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{page.url}: {message.text}"))
    page.on("dialog", lambda dialog: messages.append(f"dialog: {dialog.message}") or dialog.dismiss())

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("carol-csp")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()
    expect(page).to_have_url(f"{live_server.url}/")
    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/accounts")
    expect(page.get_by_text('<img src=x onerror="document.title=1">').first).to_be_visible()
    assert page.title() != "1"
    assert [m for m in messages if "Content Security Policy" in m or "dialog:" in m] == []
