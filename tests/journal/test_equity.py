"""Equity points from the heartbeats: one per account and minute, few statements per chunk,
thinned to one an hour after a week, deleted after the retention setting."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from journal.equity import equity_prune, equity_record
from journal.models import EquityPoint
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.drivers.base import AccountInfo
from terminals.models import SimAccount, TradingAccount
from terminals.services import account_connect, accounts_heartbeat, simulated_host
from tests.factories import EquityPointFactory, TradingAccountFactory

pytestmark = pytest.mark.django_db
Step = EquityPoint.Step
NOW = datetime(2026, 3, 10, 12, 30, 15, tzinfo=UTC)


def info(balance: float, equity: float | None = None, currency: str = "USD") -> AccountInfo:
    return AccountInfo(
        login=1, server="SimBroker-Demo", name="x", currency=currency, leverage=100, balance=balance,
        equity=balance if equity is None else equity, margin=0.0, margin_free=balance, profit=0.0,
    )  # fmt: skip


def at_fixed_time(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_the_agents_heartbeats_give_one_point_per_account_and_minute(alice, bob, monkeypatch):
    mine = account_connect(owner=alice, login="8300001", password="pw-1", server="SimBroker-Demo", kind="simulated")
    theirs = account_connect(owner=bob, login="8300002", password="pw-2", server="SimBroker-Demo", kind="simulated")
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    at_fixed_time(monkeypatch, NOW)
    agent.tick()  # connecting → online
    SimAccount.objects.filter(login=8300001).update(balance=Decimal("9000.00"))
    at_fixed_time(monkeypatch, NOW + timedelta(seconds=20))
    agent.tick()  # the same minute: skipped, the minute's first reading stays
    at_fixed_time(monkeypatch, NOW + timedelta(seconds=50))
    agent.tick()  # the next minute

    points = EquityPoint.objects.order_by("account", "at").values_list("owner", "account", "at", "balance", "step")
    minute = NOW.replace(second=0)
    assert list(points) == [
        (alice.pk, mine.pk, minute, Decimal("10000.00"), Step.MINUTE),
        (alice.pk, mine.pk, minute + timedelta(minutes=1), Decimal("9000.00"), Step.MINUTE),
        (bob.pk, theirs.pk, minute, Decimal("10000.00"), Step.MINUTE),
        (bob.pk, theirs.pk, minute + timedelta(minutes=1), Decimal("10000.00"), Step.MINUTE),
    ]
    assert EquityPoint.objects.owned_by(bob).count() == 2


def test_a_chunk_of_a_hundred_heartbeats_costs_one_statement_for_its_points():
    accounts = TradingAccountFactory.create_batch(100)
    readings = [(account, info(10_000 + n, 10_050.25 + n)) for n, account in enumerate(accounts)]

    with CaptureQueriesContext(connection) as queries:
        accounts_heartbeat(readings=readings)
    with CaptureQueriesContext(connection) as again:
        accounts_heartbeat(readings=readings)

    touching = [q["sql"] for q in queries.captured_queries if "journal_equitypoint" in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("INSERT")
    assert sum("journal_equitypoint" in q["sql"] for q in again.captured_queries) <= 1
    assert EquityPoint.objects.count() == 100
    last = EquityPoint.objects.get(account=accounts[99])
    assert (last.balance, last.equity, last.currency) == (Decimal("10099.00"), Decimal("10149.25"), "USD")


def test_a_failing_point_does_not_stop_the_heartbeat(alice, monkeypatch, caplog):
    account = TradingAccountFactory(owner=alice)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(EquityPoint.objects, "bulk_create", broken)
    accounts_heartbeat(readings=[(account, info(1234.5))])

    assert TradingAccount.objects.get(pk=account.pk).balance == Decimal("1234.50")
    assert "heartbeat_recorded" in caplog.text and "disk full" in caplog.text


def minutes(account, start: datetime, count: int, balance0: int = 1000) -> list[datetime]:
    at = [start + timedelta(minutes=n) for n in range(count)]
    for n, moment in enumerate(at):
        EquityPointFactory(owner=account.owner, account=account, at=moment, balance=Decimal(balance0 + n))
    return at


def test_points_older_than_a_week_are_thinned_to_the_last_of_each_hour():
    account, other = TradingAccountFactory(), TradingAccountFactory()
    eight_days = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    old = minutes(account, eight_days + timedelta(minutes=30), 90)  # 10:30-11:59: two hours
    minutes(other, eight_days + timedelta(minutes=5), 3)  # 10:05-10:07
    recent = minutes(account, NOW - timedelta(days=2), 5)

    done = equity_prune(now=NOW)

    rows = list(EquityPoint.objects.order_by("account", "at").values_list("account", "at", "step", "balance"))
    assert rows == [
        (account.pk, old[29], Step.HOUR, Decimal(1029)),  # 10:59
        (account.pk, old[89], Step.HOUR, Decimal(1089)),  # 11:59
        *[(account.pk, at, Step.MINUTE, Decimal(1000 + n)) for n, at in enumerate(recent)],
        (other.pk, eight_days + timedelta(minutes=7), Step.HOUR, Decimal(1002)),
    ]
    assert done == {"thinned": 90 + 3 - 3, "expired": 0}
    assert equity_prune(now=NOW) == {"thinned": 0, "expired": 0}  # a second run changes nothing
    assert EquityPoint.objects.count() == len(rows)


def test_only_whole_hours_are_thinned():
    account = TradingAccountFactory()
    cut = NOW - timedelta(days=7)  # 12:30:15 a week ago: the hour from 12:00 waits
    at = minutes(account, cut.replace(minute=0, second=0) - timedelta(minutes=2), 10)  # 11:58-12:07

    equity_prune(now=NOW)

    kept = list(EquityPoint.objects.order_by("at").values_list("at", "step"))
    assert kept == [(at[1], Step.HOUR), *[(moment, Step.MINUTE) for moment in at[2:]]]


def test_points_past_the_retention_are_deleted(settings):
    account = TradingAccountFactory()
    year_ago = NOW - timedelta(days=366)
    EquityPointFactory(account=account, owner=account.owner, at=year_ago, step=Step.HOUR)
    kept = EquityPointFactory(account=account, owner=account.owner, at=NOW - timedelta(days=300), step=Step.HOUR)

    settings.JOURNAL_EQUITY_RETENTION_DAYS = 0  # kept forever
    assert equity_prune(now=NOW) == {"thinned": 0, "expired": 0}
    settings.JOURNAL_EQUITY_RETENTION_DAYS = 365
    assert equity_prune(now=NOW) == {"thinned": 0, "expired": 1}

    assert list(EquityPoint.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_command_and_the_hourly_schedule_prune(settings):
    account = TradingAccountFactory()
    minutes(account, timezone.now() - timedelta(days=9), 3)
    EquityPointFactory(account=account, owner=account.owner, at=timezone.now() - timedelta(days=30))
    settings.JOURNAL_EQUITY_RETENTION_DAYS = 10
    out = io.StringIO()

    call_command("journal_equity_prune", stdout=out)

    assert "Thinned 2 minute point(s); deleted 1 expired point(s)." in out.getvalue()
    assert EquityPoint.objects.get().step == Step.HOUR
    schedule = Schedule.objects.get(name="journal: thin equity points")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == ("journal.tasks.equity_prune", "H", -1)


def test_equity_record_keeps_the_minutes_first_reading():
    account = TradingAccountFactory()

    equity_record(readings=[(account, info(100.0, 99.5))], at=NOW)
    equity_record(readings=[(account, info(200.0, 199.5))], at=NOW + timedelta(seconds=30))

    point = EquityPoint.objects.get()
    assert (point.at, point.balance, point.equity) == (NOW.replace(second=0), Decimal("100.00"), Decimal("99.50"))
