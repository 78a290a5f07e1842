"""Operators' pages in chromium: a trader opening the admin, the overview's charts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from terminals.models import TerminalHost
from tests.conftest import PASSWORD
from tests.factories import OrderFactory, TradingAccountFactory, UserFactory

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


def test_overview_charts_render_without_console_errors(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    UserFactory(username="operator-charts", is_staff=True, is_superuser=True)
    host = TerminalHost.objects.create(name="win-charts", queue_name="win-charts", capacity=4, online=True)
    account = TradingAccountFactory(host=host)
    now = timezone.now()
    for minutes, status in ((3, "filled"), (7, "filled"), (9, "rejected")):
        received = now - timedelta(minutes=minutes)
        OrderFactory(account=account, owner=account.owner, status=status, created_at=received,
                     done_at=received + timedelta(milliseconds=40 * minutes), status_reason="guard")  # fmt: skip
    problems: list[str] = []
    page.on("console", lambda message: message.type in ("error", "warning") and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server.url, "operator-charts")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Overview").click()
    expect(page).to_have_url(f"{live_server.url}/admin/overview/")
    page.wait_for_load_state("networkidle")

    assert page.evaluate("Object.keys(Chart.instances).length") == 6
    for canvas in page.locator("canvas").all():
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    expect(page.get_by_test_id("fill-rate")).to_have_text("67 %")
    page.get_by_role("link", name="24h").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("Object.keys(Chart.instances).length") == 6
    assert problems == []
