"""Operators' pages in chromium: a trader opening the admin, the overview's charts."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()
    expect(page).to_have_url(f"{base}/")


def test_trader_opening_the_admin_is_told_they_are_not_an_operator(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    UserFactory(username="trader-admin-loop")
    sign_in(page, live_server.url, "trader-admin-loop")

    # A redirect loop fails the navigation itself (ERR_TOO_MANY_REDIRECTS).
    response = page.goto(f"{live_server.url}/admin/")

    assert response.status == 403
    expect(page.get_by_text("not an operator")).to_be_visible()
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page).to_have_url(f"{live_server.url}/")
