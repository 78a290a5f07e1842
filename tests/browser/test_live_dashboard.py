"""The dashboard follows orders live (GET /events/), also across a restart of the web server.

pytest-django's live_server is WSGI and cannot stream, so this test runs the service's own
processes on a database they share (tests/servers.py): daphne, a qcluster and the host
agent, with the Redis broker and channel layer when REDIS_URL is set. On the embedded stack
the qcluster worker's events reach daphne's in-memory layer through the event table relay.
"""

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests import servers
from tests.servers import Processes, SharedDatabase

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000


def send_order(webhook: str, login: str, number: int) -> int:
    """A market order for one account through the webhook; the new order's id."""
    body = {"action": "buy", "symbol": "BTCUSD", "volume": "0.01", "accounts": [login], "id": f"live-{number}"}
    request = urllib.request.Request(
        webhook, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        reply = json.loads(response.read())
    [order] = reply["orders"]
    return order["id"]


def send_refused(webhook: str) -> None:
    """A signal the service refuses (an unknown action): 400, and it is on the live feed."""
    body = json.dumps({"action": "jump", "symbol": "BTCUSD"}).encode()
    request = urllib.request.Request(webhook, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def expect_filled(page: Page, order_id: int) -> None:
    row = page.get_by_test_id("live-orders").locator(f'tr[data-order="{order_id}"]')
    expect(row.get_by_test_id("order-status")).to_have_text("filled", timeout=TIMEOUT_MS)


def test_trader_sees_orders_fill_live_across_a_server_restart(browser, tmp_path):
    database = SharedDatabase(tmp_path, prefix="browser")
    env = servers.service_env(DATABASE_URL=database.url, PASSWORD_LOGIN="1", LOG_LEVEL="INFO")
    processes = Processes(env, tmp_path)
    context = None
    try:
        done = servers.manage("migrate", "--noinput", env=env)
        assert done.returncode == 0, done.stderr
        # DEBUG=1 as `make run` does: the pages' static files come from the finders, no collectstatic.
        web, base = processes.daphne(DEBUG="1")
        demo = servers.manage("demo", "--user", "livetrader", "--accounts", "1", "--base-url", base, "--json", env=env)
        assert demo.returncode == 0, demo.stderr
        trader = json.loads(demo.stdout)
        login = trader["accounts"][0]["login"]
        processes.start_cluster()
        processes.start(["manage.py", "host_agent", "--interval", "1"], "host_agent")

        context = browser.new_context(base_url=base, timezone_id="Europe/Berlin")
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Username").fill(trader["username"])
        page.get_by_label("Password").fill(trader["password"])
        page.get_by_role("button", name="Sign in with password").click()
        expect(page).to_have_url(f"{base}/")
        # The demo trader has no time zone: the page takes the browser's and reloads once.
        expect(page.get_by_test_id("time-zone")).to_have_text("Europe/Berlin", timeout=TIMEOUT_MS)
        status = page.get_by_test_id("live-status")
        expect(status).to_have_text("connected", timeout=TIMEOUT_MS)
        # Gone if the page reloads: every change below must come from the live stream.
        page.evaluate("window.liveTestMarker = 'same page'")

        expect_filled(page, send_order(trader["webhook_url"], login, 1))
        send_refused(trader["webhook_url"])
        refusal = page.get_by_test_id("live-feed").locator("li").first
        expect(refusal).to_contain_text("signal jump BTCUSD refused", timeout=TIMEOUT_MS)
        expect(refusal).to_contain_text('action "jump" is not one of BUY, SELL')
        # Times as the server writes them (mt5saas/display.py), in the trader's zone.
        expect(refusal).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0[12]:00 signal"))

        # The page's stream drops with the server; a new daphne takes over the same port.
        servers.stop(web)
        expect(status).to_have_text("reconnecting", timeout=TIMEOUT_MS)
        port = int(base.rsplit(":", 1)[1])
        processes.daphne(port=port, name="daphne-2", DEBUG="1")

        expect_filled(page, send_order(trader["webhook_url"], login, 2))
        expect(status).to_have_text("connected", timeout=TIMEOUT_MS)
        assert page.evaluate("window.liveTestMarker") == "same page"
    finally:
        if context is not None:
            context.close()
        leftover = processes.stop_all()
        database.drop()

    assert not leftover, f"processes outlived the test: {leftover}"
