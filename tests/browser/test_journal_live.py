"""The Journal page follows deals and closed trades live (GET /events/), with no reload.

As in test_live_dashboard.py, the page is served by the service's own daphne (pytest-django's
live_server is WSGI and cannot stream) on a database the test shares with it. The deal and the
trade are stored and published by another process, as the host agent's round does: the events
reach daphne through the event table relay on the embedded stack, through Redis when set.
"""

import json

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.servers import Processes, SharedDatabase

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000

# Run by `manage.py shell` against the shared database: a position closed by its stop loss,
# stored and published in one transaction (events go out after its commit), with the contract's
# field names (issue #24) in the payloads.
PUBLISH = """
from datetime import timedelta
from decimal import Decimal
from django.db import transaction
from django.utils import timezone
from journal.models import Deal, Trade
from mt5saas.events import publish_many
from terminals.models import TradingAccount

account = TradingAccount.objects.get(login={login!r})
now = timezone.now()
with transaction.atomic():
    deal = Deal.objects.create(
        owner=account.owner, account=account, ticket={ticket}, time=now, time_msc=int(now.timestamp() * 1000),
        kind="sell", side="sell", entry="out", symbol="BTCUSD", volume=Decimal("0.01"), price=Decimal("64950"),
        profit=Decimal("-42.50"), currency="USD", position=4242, reason="sl",
    )
    trade = Trade.objects.create(
        owner=account.owner, account=account, position=4242, open_deal=4241, status="closed", symbol="BTCUSD",
        side="buy", volume=Decimal("0.01"), closed_volume=Decimal("0.01"), open_time=now - timedelta(minutes=5),
        open_price=Decimal("65000"), close_time=now, close_price=Decimal("64950"), gross_profit=Decimal("-42.50"),
        profit=Decimal("-42.50"), currency="USD", duration_s=300, close_reason="sl",
    )
    publish_many(account.owner_id, [
        ("deal", {{"ticket": deal.ticket, "account": account.pk, "time": now.isoformat(), "symbol": "BTCUSD",
                  "side": "sell", "entry": "out", "volume": "0.01", "price": "64950", "profit": "-42.50",
                  "commission": "0.00", "swap": "0.00", "fee": "0.00", "position": 4242, "reason": "sl",
                  "order": None}}),
        ("trade_closed", {{"id": trade.pk, "account": account.pk, "symbol": "BTCUSD", "side": "buy",
                          "volume": "0.01", "profit": "-42.50", "close_reason": "sl"}}),
    ])
print(trade.pk)
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

        published = servers.manage("shell", "--no-imports", "-c", PUBLISH.format(login=login, ticket=777001), env=env)
        assert published.returncode == 0, published.stderr
        trade_id = published.stdout.strip()

        trade_row = page.locator(f'#tab-trades tr[data-trade="{trade_id}"]')
        expect(trade_row.get_by_test_id("trade-profit")).to_contain_text("-42.50", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stat-net-profit")).to_have_text("-42.50", timeout=TIMEOUT_MS)
        page.get_by_test_id("tab-deals").click()
        deal_row = page.locator('#tab-deals tr[data-deal="777001"]')
        expect(deal_row).to_be_visible(timeout=TIMEOUT_MS)
        expect(deal_row).to_contain_text("SL")
        expect(deal_row.get_by_test_id("deal-profit")).to_contain_text("-42.50")
        assert page.evaluate("window.journalTestMarker") == "same page"
        assert errors == []
    finally:
        if context is not None:
            context.close()
        leftover = processes.stop_all()
        database.drop()

    assert not leftover, f"processes outlived the test: {leftover}"
