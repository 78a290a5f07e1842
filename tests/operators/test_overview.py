"""The operators' overview: figures computed from the rows, for operators only."""

import json
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from terminals.models import Order, TerminalHost, TradingAccount
from tests.factories import OrderFactory, SignalFactory, TradingAccountFactory, UserFactory
from tests.security.pages import policy_violations
from webhooks.models import Signal

pytestmark = pytest.mark.django_db

PATH = "/admin/overview/"
NO_MONEY = "There is not enough money to complete the request (NO_MONEY 10019)"


def figures(response) -> dict:
    """The figures the page's charts read (its json_script element)."""
    assert response.status_code == 200
    found = re.search(r'<script id="overview-data" type="application/json">(.*?)</script>', response.text, re.S)
    return json.loads(found[1])


def finished(ago: timedelta, latency_ms: float, status=Order.Status.FILLED, **fields) -> Order:
    received = timezone.now() - ago
    return OrderFactory(
        status=status, created_at=received, done_at=received + timedelta(milliseconds=latency_ms), **fields
    )


@pytest.fixture
def staff(client, operator):
    client.force_login(operator)
    return client


def test_figures_over_the_last_hour_and_day_come_from_the_rows(staff):
    for i, ms in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]):
        finished(timedelta(minutes=5 + i), ms)
    finished(timedelta(minutes=20), 5, Order.Status.REJECTED, retcode=10019, status_reason="Risk guard: max lot")
    finished(timedelta(minutes=21), 5, Order.Status.REJECTED, retcode=10019, status_reason="Risk guard: max lot")
    finished(timedelta(minutes=22), 3000, Order.Status.FAILED, status_reason="Terminal did not answer")
    OrderFactory(status=Order.Status.QUEUED, created_at=timezone.now() - timedelta(minutes=1))
    finished(timedelta(hours=3), 400)  # only in the day's figures
    finished(timedelta(days=2), 1)  # in neither
    SignalFactory(status=Signal.Status.REFUSED, errors={"volume": ["Must be greater than 0."]})
    SignalFactory(status=Signal.Status.REFUSED, errors={"volume": ["Must be greater than 0."], "symbol": ["Unknown."]})

    hour = figures(staff.get(PATH))
    day = figures(staff.get(PATH, {"window": "24h"}))

    orders = hour["orders"]
    minutes = (datetime.fromisoformat(hour["until"]) - datetime.fromisoformat(hour["since"])).total_seconds() / 60
    assert 59 <= minutes <= 60
    assert orders["total"] == 14 and orders["per_minute"] == round(14 / minutes, 2)
    assert orders["by_status"] == {"filled": 10, "rejected": 2, "failed": 1, "queued": 1}
    assert orders["finished"] == 13 and orders["fill_rate"] == round(10 / 13, 4)
    # 13 finished latencies: 5, 5, 10 … 90, 1000, 3000. Nearest rank: p50 the 7th, p99 the 13th.
    assert orders["latency_ms"] == {"p50": 50.0, "p99": 3000.0, "sample": 13}
    assert len(orders["series"]) == 60 and sum(row["orders"] for row in orders["series"]) == 14
    assert sum(row["filled"] for row in orders["series"]) == 10
    assert hour["refusals"] == [
        {"kind": "alert refused", "reason": "volume: Must be greater than 0.", "count": 2},
        {"kind": "order rejected", "reason": f"Risk guard: max lot · {NO_MONEY}", "count": 2},
        {"kind": "alert refused", "reason": "symbol: Unknown.", "count": 1},
        {"kind": "order failed", "reason": "Terminal did not answer", "count": 1},
    ]
    assert day["orders"]["total"] == 15 and day["orders"]["by_status"]["filled"] == 11
    assert len(day["orders"]["series"]) == 24 and day["orders"]["latency_ms"]["sample"] == 14


def test_figures_per_bucket_count_each_orders_minute(staff):
    at = timezone.now() - timedelta(minutes=10)
    for ms in (100, 300):
        OrderFactory(status=Order.Status.FILLED, created_at=at, done_at=at + timedelta(milliseconds=ms))

    series = figures(staff.get(PATH))["orders"]["series"]

    [busy] = [row for row in series if row["orders"]]
    assert busy["at"].startswith(at.replace(second=0, microsecond=0).isoformat()[:16])
    assert (busy["orders"], busy["filled"], busy["per_minute"]) == (2, 2, 2.0)
    assert (busy["p50_ms"], busy["p99_ms"]) == (100.0, 300.0)


def test_hosts_with_their_load_and_accounts_by_status(staff):
    host = TerminalHost.objects.create(name="win-a", queue_name="win-a", capacity=5, online=True, cpu_percent=42.5)
    TerminalHost.objects.create(name="win-b", queue_name="win-b", capacity=3)
    for status in ("online", "online", "offline"):
        TradingAccountFactory(host=host, status=status)
    TradingAccountFactory(status="online", deleted_at=timezone.now())  # deleted: not counted

    shown = figures(staff.get(PATH))

    hosts = {row["name"]: row for row in shown["hosts"]}
    assert (hosts["win-a"]["load"], hosts["win-a"]["capacity"], hosts["win-a"]["online"]) == (3, 5, True)
    assert hosts["win-a"]["cpu_percent"] == 42.5 and hosts["win-b"]["load"] == 0
    assert shown["accounts"] == {"online": 2, "offline": 1}
    assert TradingAccount.objects.count() == 4


def test_an_empty_service_has_no_rates_and_no_error(staff):
    shown = figures(staff.get(PATH, {"window": "24h"}))

    assert shown["orders"]["fill_rate"] is None and shown["orders"]["latency_ms"]["p50"] is None
    assert shown["refusals"] == [] and shown["accounts"] == {}


@pytest.mark.parametrize("window", ["7d", "", "1h' OR 1=1", "x" * 5000])
def test_an_unknown_window_is_a_400(staff, window):
    response = staff.get(PATH, {"window": window})

    assert response.status_code == 400 and "1h, 24h" in response.text


def test_the_admin_index_links_the_overview_which_passes_the_csp(staff):
    assert f'href="{PATH}"' in staff.get("/admin/").text
    assert policy_violations(staff.get(PATH).text) == []


def test_traders_are_refused_as_by_every_admin_page_and_anonymous_sent_to_sign_in(client):
    client.force_login(UserFactory())
    trader = client.get(PATH)
    client.logout()
    anonymous = client.get(PATH)

    assert trader.status_code == 403 and "not an operator" in trader.text
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
