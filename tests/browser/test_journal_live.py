"""The Journal page follows deals and closed trades live (GET /events/), with no reload.

As in test_live_dashboard.py, the page is served by the service's own daphne (pytest-django's
live_server is WSGI and cannot stream) on a database the test shares with it. The trade is made
by hand on the paper terminal and read by a host agent round in another process: the events
reach daphne through the event table relay on the embedded stack, through Redis when set.
"""

import json

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.servers import Processes, SharedDatabase

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000

# Run by `manage.py shell` against the shared database: a position opened on the paper terminal by
# hand and closed from the phone, then one host agent round, which reads the deals from the
# terminal, stores them in the journal and publishes `deal` and `trade_closed` after its commit.
TRADE_AND_ROUND = """
from journal.models import Trade
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import DealReason, OrderRequest, OrderType, TradeAction
from terminals.models import TradingAccount
from terminals.paper.hand import hand_trade
from terminals.services import simulated_host

account = TradingAccount.objects.get(login={login!r})
where = {{"server": account.server, "login": int(account.login)}}
opened = hand_trade(**where, request=OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.01))
close = OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.01, type=OrderType.SELL, position=opened.order)
closed = hand_trade(**where, request=close, reason=DealReason.MOBILE)
HostAgent(host=simulated_host(), open_driver=open_driver).tick()
trade = Trade.objects.get(account=account, position=opened.order)
print(closed.deal, trade.pk, trade.profit)
"""


def test_a_deal_and_a_closed_trade_appear_on_an_open_journal_page_without_reload(browser, tmp_path):
    database = SharedDatabase(tmp_path, prefix="journal")
    env = servers.service_env(DATABASE_URL=database.url, PASSWORD_LOGIN="1")
    processes = Processes(env, tmp_path)
    context = None
    try:
        done = servers.manage("migrate", "--noinput", env=env)
        assert done.returncode == 0, done.stderr
        # DEBUG=1 as `make run` does: static files (chart.js, the page's scripts) from the finders.
        _, base = processes.daphne(DEBUG="1")
        demo = servers.manage(
            "demo", "--user", "journaltrader", "--accounts", "1", "--base-url", base, "--json", env=env
        )
        assert demo.returncode == 0, demo.stderr
        trader = json.loads(demo.stdout)
        login = trader["accounts"][0]["login"]

        context = browser.new_context(base_url=base, timezone_id="UTC")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/login")
        page.get_by_label("Username").fill(trader["username"])
        page.get_by_label("Password").fill(trader["password"])
        page.get_by_role("button", name="Sign in with password").click()
        expect(page).to_have_url(f"{base}/")
        # The demo trader has no time zone: the first page takes the browser's and reloads once.
        expect(page.get_by_test_id("time-zone")).to_have_text("UTC", timeout=TIMEOUT_MS)
        page.get_by_role("link", name="Journal").click()
        expect(page.get_by_test_id("live-status")).to_have_text("connected", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("trades-empty")).to_be_visible()
        expect(page.get_by_test_id("stats-empty")).to_be_visible()
        # Gone if the page reloads: every change below must come from the live stream.
        page.evaluate("window.journalTestMarker = 'same page'")

        done = servers.manage("shell", "--no-imports", "-c", TRADE_AND_ROUND.format(login=login), env=env)
        assert done.returncode == 0, done.stderr
        deal_ticket, trade_id, profit = done.stdout.split()

        trade_row = page.locator(f'#tab-trades tr[data-trade="{trade_id}"]')
        expect(trade_row.get_by_test_id("trade-profit")).to_contain_text(profit, timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stat-net-profit")).to_have_text(profit, timeout=TIMEOUT_MS)
        page.get_by_test_id("tab-deals").click()
        deal_row = page.locator(f'#tab-deals tr[data-deal="{deal_ticket}"]')
        expect(deal_row).to_be_visible(timeout=TIMEOUT_MS)
        expect(deal_row).to_contain_text("mobile")
        expect(deal_row.get_by_test_id("deal-profit")).to_contain_text(profit)
        assert page.evaluate("window.journalTestMarker") == "same page"
        assert errors == []
    finally:
        if context is not None:
            context.close()
        leftover = processes.stop_all()
        database.drop()

    assert not leftover, f"processes outlived the test: {leftover}"
