"""Every page a trader has loads in Chromium with no console error and no failed request, with
the favicon; times follow the trader's zone, taken from the browser until one is chosen, and
the pages' scripts write them as the server does."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from mt5saas.crypto import encrypt
from tests.conftest import PASSWORD
from tests.factories import (
    CopyEventFactory,
    CopyExecutionFactory,
    CopyPairFactory,
    DealFactory,
    EquityPointFactory,
    OrderFactory,
    SignalFactory,
    TradeFactory,
    TradingAccountFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/accounts",
    "/accounts/{account}",
    "/copy",
    "/copy/history",
    "/history",
    "/journal/",
    "/alerts",
    "/settings",
]


def watch(page: Page) -> list[str]:
    """Console errors, uncaught exceptions, failed requests and error answers, as they come."""
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console {page.url}: {m.text}"))
    page.on("pageerror", lambda error: problems.append(f"exception {page.url}: {error}"))
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    return problems


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()
    expect(page).to_have_url(f"{base}/")
    page.wait_for_load_state("networkidle")


def test_every_trader_page_loads_with_no_console_error_and_no_failed_request(page: Page, live_server, settings):
    settings.PASSWORD_LOGIN = True
    dora = UserFactory(username="dora", time_zone="Europe/Berlin")
    # Rows made directly: a service that publishes live events would send them from this thread,
    # which runs Playwright's event loop, whenever an earlier test left listeners on the layer.
    master, slave = (TradingAccountFactory(owner=dora, nickname=name, password=encrypt("pw")) for name in ("M", "F"))
    pair = CopyPairFactory(owner=dora, master=master, slave=slave)
    OrderFactory(owner=dora, account=slave, status="filled", retcode=10009, fill_price="65000.5", digits=2)
    SignalFactory(owner=dora, status="refused", action="jump", errors={"action": ['action "jump" is not one of BUY.']})
    event = CopyEventFactory(owner=dora, master=master, symbol="EURUSD.m")
    CopyExecutionFactory(owner=dora, event=event, pair=pair, slave=slave, status="success", symbol="EURUSD.m", error="")
    # The Journal with a trade, a deal and two points of its chart (drawn by Chart.js under the CSP).
    TradeFactory(owner=dora, account=slave, copy_pair=pair)
    DealFactory(owner=dora, account=slave)
    for minutes in (0, 60):
        EquityPointFactory(owner=dora, account=slave, at=datetime(2025, 3, 3, 12, minutes // 60, tzinfo=UTC))
    problems = watch(page)

    sign_in(page, live_server.url, "dora")
    for path in PAGES:
        response = page.goto(live_server.url + path.format(account=pair.slave.pk))
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        assert icon.endswith(".svg"), path
    favicon = page.request.get(live_server.url + icon)

    assert problems == []
    assert favicon.status == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
    page.goto(f"{live_server.url}/history")
    expect(page.get_by_test_id("refusal")).to_have_text('action "jump" is not one of BUY.')
    page.goto(f"{live_server.url}/copy/history")
    expect(page.get_by_test_id("copy-symbol")).to_have_text("EURUSD.m")
    expect(page.get_by_test_id("copy-slave")).to_have_text("F")
    page.goto(f"{live_server.url}/journal/")
    # Chart.js sized the canvas to its box: the chart was drawn.
    expect(page.locator("#journal-equity-chart")).to_have_attribute("height", re.compile(r"^[1-9]\d+$"))


def test_a_trader_without_a_time_zone_gets_the_browsers_and_scripts_write_times_alike(browser, live_server, settings):
    settings.PASSWORD_LOGIN = True
    erin = UserFactory(username="erin", time_zone="")
    order = OrderFactory(owner=erin, created_at=datetime(2026, 1, 15, 12, 30, 5, tzinfo=UTC))
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    problems = watch(page)
    try:
        sign_in(page, live_server.url, "erin")
        # Chromium names it as ICU does (Asia/Calcutta); zoneinfo knows both names.
        browser_zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
        expect(page.get_by_test_id("time-zone")).to_have_text(browser_zone)
        page.goto(f"{live_server.url}/history")
        expect(page.locator(f'tr[data-order="{order.pk}"] time')).to_have_text("2026-01-15 18:00:05 +05:30")
        iso = order.created_at.isoformat()
        written = page.evaluate("(iso) => window.mt5saas.formatTime(new Date(iso))", iso)
        page.evaluate("document.documentElement.dataset.timeZone = 'UTC'")
        in_utc = page.evaluate("(iso) => window.mt5saas.formatTime(new Date(iso))", iso)
    finally:
        context.close()

    erin.refresh_from_db()
    assert erin.time_zone == browser_zone and browser_zone in ("Asia/Kolkata", "Asia/Calcutta")
    assert problems == []
    assert written == "2026-01-15 18:00:05 +05:30" and in_utc == "2026-01-15 12:30:05 UTC"


def test_a_chosen_time_zone_is_kept_whatever_the_browsers(browser, live_server, settings):
    settings.PASSWORD_LOGIN = True
    fred = UserFactory(username="fred", time_zone="America/New_York")
    TradingAccountFactory(owner=fred)
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    try:
        sign_in(page, live_server.url, "fred")
        page.goto(f"{live_server.url}/history")
        page.wait_for_load_state("networkidle")
        expect(page.get_by_test_id("time-zone")).to_have_text("America/New_York")
    finally:
        context.close()

    fred.refresh_from_db()
    assert fred.time_zone == "America/New_York"
    assert [url for url in posts if url.endswith("/settings/time-zone")] == []


def test_pages_that_name_no_icon_get_it_at_favicon_ico(page: Page, live_server):
    response = page.request.get(f"{live_server.url}/favicon.ico")

    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
