"""Host and account heartbeats, offline transitions with backoff, stale hosts."""

import io
import itertools
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from live.models import Event
from terminals.agent import HostAgent, account_read
from terminals.drivers import open_driver
from terminals.drivers.base import TerminalError
from terminals.models import AccountEvent, SimAccount, TerminalHost, TradingAccount
from terminals.services import account_connect, account_set_status, simulated_host
from tests.factories import TradingAccountFactory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def paper_account(owner, login="8200001") -> TradingAccount:
    return account_connect(owner=owner, login=login, password="pw-1", server="SimBroker-Demo", kind="simulated")


@pytest.mark.django_db
def test_tick_writes_host_and_account_heartbeats(alice):
    account = paper_account(alice)
    TradingAccount.objects.filter(pk=account.pk).update(balance=Decimal("1"), heartbeat_at=None)
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)

    agent.tick()

    host = TerminalHost.objects.get(pk=agent.host.pk)
    account.refresh_from_db()
    assert host.online and host.heartbeat_at is not None and host.terminals_running == 1
    assert host.memory_percent is not None
    assert account.balance == Decimal("10000.00") and account.heartbeat_at is not None


@pytest.mark.django_db
def test_a_round_asks_once_which_accounts_are_masters_or_have_price_alerts(alice):
    # The agent reads every account each round (1,000 on a big simulated host): what the
    # round's receivers need to know about all of them is read once, not once per account.
    for n in range(5):
        paper_account(alice, login=f"82001{n:02d}")
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)

    with CaptureQueriesContext(connection) as queries:
        agent.tick()

    tables = [q["sql"] for q in queries.captured_queries]
    assert TerminalHost.objects.get(pk=agent.host.pk).terminals_running == 5
    assert sum('FROM "copytrading_copypair"' in sql for sql in tables) == 1
    assert sum('FROM "alerts_pricealert"' in sql for sql in tables) == 1


@pytest.mark.django_db
def test_a_round_reads_and_records_many_paper_accounts_in_a_few_statements(alice, bob):
    # 1,000 simulated accounts on one host: a round of several statements per account took
    # about a core. Their terminals are read together and their figures written together.
    mine = [paper_account(alice, login=f"82003{n:02d}") for n in range(12)]
    theirs = [paper_account(bob, login=f"82004{n:02d}") for n in range(12)]
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()  # connecting → online: transitions, one by one
    SimAccount.objects.filter(login=int(mine[0].login)).update(balance=Decimal("12345.67"))
    SimAccount.objects.filter(login=int(theirs[5].login)).update(balance=Decimal("500.00"))
    events_before = Event.objects.filter(kind="account").count()

    with CaptureQueriesContext(connection) as queries:
        agent.tick()

    # Reads, the figures and the events: the same few statements for 24 accounts as for 2.
    assert len(queries) < 30, [q["sql"][:80] for q in queries.captured_queries]
    changed = list(Event.objects.filter(kind="account").order_by("pk"))[events_before:]
    assert [(e.owner_id, e.payload["account"], e.payload["balance"]) for e in changed] == [
        (alice.pk, mine[0].pk, "12345.67"),
        (bob.pk, theirs[5].pk, "500.00"),
    ]  # unchanged figures are not sent again
    for account in (mine[0], theirs[5], mine[1]):
        account.refresh_from_db()
    assert (mine[0].balance, mine[0].equity, mine[0].status) == (Decimal("12345.67"), Decimal("12345.67"), "online")
    assert theirs[5].balance == Decimal("500.00") and mine[1].balance == Decimal("10000.00")
    assert mine[1].heartbeat_at > mine[0].created_at
    assert TerminalHost.objects.get(pk=agent.host.pk).terminals_running == 24


@pytest.mark.django_db
def test_an_account_stopped_during_the_round_keeps_its_status_and_figures(alice):
    first, second = paper_account(alice, login="8200501"), paper_account(alice, login="8200502")
    agent = HostAgent(host=simulated_host(), open_driver=open_driver)
    agent.tick()
    SimAccount.objects.filter(login=int(second.login)).update(balance=Decimal("1.00"))

    def stop_the_other(sender, account, **kwargs):
        # The owner stops `second` while the round reads `first`: after the round's list was read.
        if account.pk == first.pk:
            account_set_status(account=second, status="stopped", reason="Stopped by its owner.")

    account_read.connect(stop_the_other)
    try:
        agent.tick()
    finally:
        account_read.disconnect(stop_the_other)

    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, second.balance) == ("stopped", Decimal("10000.00"))
    assert first.status == "online"


@pytest.mark.django_db
def test_failing_terminal_goes_offline_and_is_retried_with_capped_backoff(alice):
    account = paper_account(alice)
    clock, calls = Clock(), []

    def broken(acct):
        calls.append(clock.now)
        raise TerminalError(-10004, "Internal IPC no ipc")

    agent = HostAgent(host=simulated_host(), open_driver=broken, clock=clock)
    for _ in range(40):
        agent.tick()
        clock.now += 1

    account.refresh_from_db()
    assert account.status == "offline" and "no ipc" in account.status_reason
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[:4] == [2, 4, 8, 16]  # exponential, measured in agent rounds one second apart
    assert AccountEvent.objects.filter(account=account, status="offline").count() == 1

    agent.open_driver = open_driver
    clock.now += 400  # past the cap of 300 s
    agent.tick()
    account.refresh_from_db()
    assert account.status == "online"
    assert list(AccountEvent.objects.filter(account=account).values_list("status", flat=True))[-1] == "online"


@pytest.mark.django_db
def test_host_three_intervals_late_goes_offline_with_its_accounts(alice):
    late = TerminalHost.objects.create(
        name="win-late", queue_name="win-late", kind="windows", online=True,
        heartbeat_at=timezone.now() - timedelta(seconds=16),
    )  # fmt: skip
    fresh = TerminalHost.objects.create(
        name="win-fresh", queue_name="win-fresh", kind="windows", online=True, heartbeat_at=timezone.now()
    )
    stranded = TradingAccountFactory(owner=alice, host=late, kind="mt5", status="online")
    fine = TradingAccountFactory(owner=alice, host=fresh, kind="mt5", status="online")

    HostAgent(host=simulated_host(), open_driver=open_driver, interval=timedelta(seconds=5)).tick()

    assert not TerminalHost.objects.get(pk=late.pk).online and TerminalHost.objects.get(pk=fresh.pk).online
    stranded.refresh_from_db()
    fine.refresh_from_db()
    assert stranded.status == "offline" and "win-late stopped answering" in stranded.status_reason
    assert fine.status == "online"


@pytest.mark.django_db
def test_register_host_command_and_its_bad_input():
    out = io.StringIO()
    call_command("register_host", "--name", "win-1", "--queue", "win-1", "--capacity", "15", stdout=out)

    assert "Q_CLUSTER_NAME=win-1 python manage.py qcluster" in out.getvalue()
    assert TerminalHost.objects.get(queue_name="win-1").capacity == 15
    for args in (["--queue", "bad queue"], ["--queue", "ok", "--capacity", "0"], ["--queue", "ok", "--name", " "]):
        with pytest.raises(CommandError):
            call_command("register_host", *(["--name", "x", *args]))
    assert TerminalHost.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the agent closes stale connections between rounds
def test_host_agent_command_runs_rounds(alice):
    paper_account(alice)
    out = io.StringIO()

    call_command("host_agent", "--rounds", "1", "--interval", "0.5", stdout=out)

    assert "host agent for simulated" in out.getvalue()
    assert TerminalHost.objects.get(name="simulated").heartbeat_at is not None


@pytest.mark.django_db
def test_an_unassigned_account_connects_when_a_host_has_room(alice):
    from terminals.models import SimAccount

    SimAccount.objects.all().delete()
    waiting = TradingAccountFactory(owner=alice, kind="simulated", host=None, status="unassigned", login="8200009")
    from mt5saas.crypto import encrypt

    TradingAccount.objects.filter(pk=waiting.pk).update(password=encrypt("pw-wait"))
    host = simulated_host()

    HostAgent(host=host, open_driver=open_driver).tick()

    waiting.refresh_from_db()
    assert waiting.host == host and waiting.status == "online" and waiting.balance == Decimal("10000.00")
    statuses = list(AccountEvent.objects.filter(account=waiting).values_list("status", flat=True))
    assert statuses == ["connecting", "online"]


@pytest.mark.django_db
def test_account_changes_are_published_to_the_owners_group(alice, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{alice.pk}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        account = paper_account(alice, login="8200010")
    message = async_to_sync(layer.receive)(channel)

    assert message["type"] == "event.publish"
    assert message["payload"]["type"] == "account" and message["payload"]["account"] == account.pk
    assert message["payload"]["status"] == "online" and message["payload"]["balance"] == "10000.00"


@pytest.mark.django_db
def test_a_stopped_account_stays_stopped_when_its_host_goes_stale(alice):
    late = TerminalHost.objects.create(
        name="win-old", queue_name="win-old", kind="windows", online=True,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    stopped = TradingAccountFactory(owner=alice, host=late, kind="mt5", status="stopped")

    HostAgent(host=simulated_host(), open_driver=open_driver).tick()

    stopped.refresh_from_db()
    assert stopped.status == "stopped"


@pytest.mark.django_db
def test_one_broken_account_does_not_stop_the_hosts_heartbeat(alice):
    good = paper_account(alice, login="8200020")
    broken = paper_account(alice, login="8200021")
    TradingAccount.objects.filter(pk=broken.pk).update(password="not-a-fernet-token")

    HostAgent(host=simulated_host(), open_driver=open_driver).tick()

    host = TerminalHost.objects.get(name="simulated")
    good.refresh_from_db()
    assert host.heartbeat_at is not None and host.terminals_running == 1
    assert good.status == "online"


@pytest.mark.django_db
def test_a_repeated_long_reason_is_one_event(alice):
    from terminals.services import account_set_status

    account = paper_account(alice, login="8200022")
    for _ in range(3):
        account_set_status(account=account, status="offline", reason="x" * 500)

    assert AccountEvent.objects.filter(account=account, status="offline").count() == 1


@pytest.mark.django_db
def test_a_refused_password_is_not_retried_until_the_owner_starts_the_account_again(alice):
    from terminals.services import account_instance

    account = paper_account(alice, login="8200030")
    calls = []

    def refused(acct):
        calls.append(acct.pk)
        raise TerminalError(-6, "Authorization failed: invalid account or password")

    agent = HostAgent(host=simulated_host(), open_driver=refused)
    agent.tick()
    agent.tick()

    account.refresh_from_db()
    assert account.status == "error" and calls == [account.pk]
    assert account_instance(account=account, action="start").status == "online"


@pytest.mark.django_db
def test_the_agent_caches_the_terminals_symbol_names(alice):
    account = paper_account(alice, login="8200040")
    TradingAccount.objects.filter(pk=account.pk).update(symbols=[])

    HostAgent(host=simulated_host(), open_driver=open_driver).tick()

    account.refresh_from_db()
    assert "GOLD" in account.symbols and "US30.cash" in account.symbols


@pytest.mark.django_db(transaction=True)  # a round starts with close_old_connections(): rows must be committed
def test_a_stop_asked_during_a_round_ends_the_agent_after_that_round(alice):
    # SIGTERM sets the stop: the round under way writes all it reads, and the agent does not
    # wait out its interval before it leaves (two rounds at most, so a broken stop cannot hang).
    account = paper_account(alice)
    TradingAccount.objects.filter(pk=account.pk).update(heartbeat_at=None)
    stop = threading.Event()
    rounds: list[int] = []

    def stop_mid_round(sender, **kwargs) -> None:
        rounds.append(1)
        stop.set()

    account_read.connect(stop_mid_round)
    try:
        agent = HostAgent(host=simulated_host(), open_driver=open_driver, interval=timedelta(seconds=30))
        started = time.monotonic()
        agent.run(rounds=2, stop=stop)
    finally:
        account_read.disconnect(stop_mid_round)

    assert rounds == [1] and time.monotonic() - started < 20
    account.refresh_from_db()
    assert account.heartbeat_at is not None
