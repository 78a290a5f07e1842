"""The trade journal as a trader reads it: the API's lists and statistics and the Journal page over
100,000 closed trades, timed through Django's full request stack in this process (middleware,
session, serializers), against GET /auth/status through the same client as the baseline; and how long
a deal made on a paper terminal takes to become a `deal` event, with the host agent's rounds."""

import random
import threading
import time
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import User
from bench import rows as bench_rows
from bench.journal_stats import seed, stats_rows, timed
from bench.measure import progress
from journal.models import Deal, Trade
from live.models import Event
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import OrderRequest, OrderType, TradeAction
from terminals.paper.hand import hand_trade
from terminals.services import account_connect, simulated_host

SERVER = "SimBroker-Demo"
TRADES = "/api/v1/trades/"
JUNE = "since=2025-06-01&until=2025-06-30"


def request_rows(n_trades: int, calls: int) -> list[dict]:
    """GET routes of one trader's journal over `n_trades` seeded trades: p50/p95/p99 each."""
    owner = seed(n_trades)
    client = Client(HTTP_HOST="127.0.0.1")  # one of the service's ALLOWED_HOSTS
    client.force_login(owner)
    account = Trade.objects.filter(owner=owner).values_list("account", flat=True).first()
    far = max(1, n_trades // 100)  # half way through the pages of 50
    routes = [
        ("GET /auth/status (baseline: a signed-in JSON answer, same client)", "/auth/status"),
        ("GET /api/v1/trades/ (first page, no filter)", "/api/v1/trades/"),
        ("GET /api/v1/trades/ filtered: account + symbol + side", f"{TRADES}?account={account}&symbol=XAUUSD&side=buy"),
        ("GET /api/v1/trades/ filtered: strategy + June", f"{TRADES}?strategy=trend&{JUNE}"),
        (f"GET /api/v1/trades/?page={far} (a far page)", f"{TRADES}?page={far}"),
        ("GET /api/v1/deals/ filtered: account", f"/api/v1/deals/?account={account}"),
        ("GET /api/v1/stats/ (all accounts)", "/api/v1/stats/"),
        ("GET /api/v1/stats/ one account", f"/api/v1/stats/?account={account}"),
        ("GET /api/v1/stats/ June", f"/api/v1/stats/?{JUNE}"),
        ("GET /journal/ filtered: account + symbol (the page)", f"/journal/?account={account}&symbol=XAUUSD"),
        ("GET /journal/stats part (all accounts)", "/journal/stats"),
    ]  # fmt: skip
    rows = []
    for done, (name, path) in enumerate(routes, 1):

        def get(path: str = path) -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")

        rows.append(bench_rows.row(f"{name} ({n_trades:,} trades)", timed(get, calls), baseline=done == 1))
        progress("journal requests", done, len(routes))
    return rows + stats_rows(n_trades, calls=calls, owner=owner)


def deal_event_rows(deals: int, interval_s: float) -> list[dict]:
    """Hand trades on paper accounts at random moments while the host agent runs its rounds every
    `interval_s`: the time from each deal to its stored `deal` event (what the stream sends next)."""
    owner = User.objects.create(username="bench-deal-event", email="bench-deal-event@example.invalid")
    logins = [f"87{n:05d}" for n in range(10)]
    for login in logins:
        account_connect(owner=owner, login=login, password="pw", server=SERVER, kind="simulated")
    agent = HostAgent(host=simulated_host(), open_driver=open_driver, interval=timedelta(seconds=interval_s))
    agent.tick()  # the first read: cursors made
    stop = threading.Event()
    rounds = threading.Thread(target=agent.run, kwargs={"stop": stop}, daemon=True)
    rounds.start()
    rng, made = random.Random(7), []
    try:
        for n in range(deals):
            time.sleep(rng.uniform(0, interval_s))
            request = OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.01,
                                   type=OrderType.BUY if n % 2 else OrderType.SELL)  # fmt: skip
            result = hand_trade(server=SERVER, login=int(logins[n % len(logins)]), request=request)
            made.append((result.deal, timezone.now()))
            progress("deal → event", n + 1, deals)
        time.sleep(interval_s * 2)  # the last deals' round
    finally:
        stop.set()
        rounds.join()
    stored = {event.payload["ticket"]: event.created_at for event in Event.objects.filter(owner=owner, kind="deal")}
    times = [(stored[ticket] - at).total_seconds() * 1000 for ticket, at in made if ticket in stored]
    lost = len(made) - len(times)
    journal = Deal.objects.filter(owner=owner).count()
    note = f"host round every {interval_s:g} s; {journal} deal(s) in the journal, {lost} without an event"
    return [bench_rows.row("deal on the terminal → `deal` event stored (sent to open streams)", times, note=note)]
