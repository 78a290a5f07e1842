"""Edges of copying where a slave could end up holding what its master no longer holds: shares
that do not divide evenly, a pair moved to other accounts, events of one master at once,
additions to an open that never filled, and one netting slave copying two masters."""

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from decimal import Decimal

import pytest
from django.db import connection

from copytrading import hooks, services
from copytrading.models import CopyEvent, CopyExecution, CopyLink, CopyPair
from copytrading.selectors import master_open_volume
from copytrading.services import MasterEvent, copy_event_receive, pair_create
from terminals.drivers.base import OrderType
from terminals.models import Order, TradingAccount
from terminals.orders.drain import accounts_drain
from tests.copytrading.conftest import drain_all, positions
from tests.copytrading.test_netting import netting
from tests.copytrading.test_watcher import by_hand

# Concurrent writers: threads, each on a connection of its own; SQLite has one writer.
postgres_only = pytest.mark.skipif(connection.vendor == "sqlite", reason="concurrent writers need PostgreSQL (.ci/run)")


def pair(master, slave, **rule):
    return pair_create(owner=master.owner, master=master, slave=slave, **rule)


def lots(account) -> list[float]:
    return [p.volume for p in positions(account)]


def at_once(*works: Callable[[], object]) -> list[Exception]:
    """Run each in a thread of its own (a database connection of its own), wait for all;
    what they raised."""
    raised: list[Exception] = []

    def run(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the caller asserts on it
            raised.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


@pytest.fixture
def two_masters(paper):
    """M1 and M2 (each with its pair's key) copied to one netting slave S."""
    m1, m2, slave = paper("M1"), paper("M2"), netting(paper("S"))
    return (m1, pair(m1, slave)[1]), (m2, pair(m2, slave)[1]), slave


@pytest.mark.django_db
def test_a_third_of_three_lots_closed_leaves_two_on_the_slave(paper, trade):
    master, slave = paper("M"), paper("IDX", "SimBroker-Demo")  # US30.cash steps by 0.1 lots
    _, key = pair(master, slave)

    trade(key, master, event="deal_add", order_id="1", symbol="US30", type="BUY", volume=3)
    drain_all()
    reply = trade(key, master, event="deal_close", order_id="1", volume=1)
    drain_all()

    # 1/3 is kept as 0.33333333: 3 * that is 0.99999999 lots, which is one lot, not 0.9.
    assert lots(slave) == [2.0]
    [closing] = CopyExecution.objects.filter(event_id=reply.json()["event"])
    assert (closing.volume_before, closing.volume_after) == (Decimal("1.0000"), Decimal("1.0000"))


@pytest.mark.django_db
def test_a_close_too_small_to_be_any_share_is_answered_and_sends_nothing(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave, volume_mode="fixed", fixed_volume=Decimal("1"))
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=20000)
    drain_all()

    # 0.0001 of 20,000 lots: a share below the eight places an order keeps.
    reply = trade(key, master, event="deal_close", order_id="1", volume="0.0001")
    drain_all()

    assert reply.status_code == 200 and reply.json()["status"] == "skipped"
    assert "too small" in reply.json()["reason"]
    assert Order.objects.count() == 1 and lots(slave) == [1.0]
    assert CopyLink.objects.get().closed_at is None


@pytest.mark.django_db
def test_a_pair_keeps_its_accounts_while_its_copies_are_open(api_client, alice, paper, trade):
    master, slave, other = paper("M"), paper("B"), paper("C")
    made, key = pair(master, slave)
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.02)
    drain_all()
    api_client.force_login(alice)

    refused = api_client.patch(f"/api/copy/pairs/{made.pk}/", {"slave": other.pk}, format="json")
    trade(key, master, event="deal_close", order_id="1")
    drain_all()
    moved = api_client.patch(f"/api/copy/pairs/{made.pk}/", {"slave": other.pk}, format="json")
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.03, deal="7")
    drain_all()

    # The close reached B, where the copy is, not C under B's ticket.
    assert refused.status_code == 400 and "still open on B" in refused.json()["errors"]["slave"][0]
    assert lots(slave) == [] and Order.objects.filter(account=other, action="close_ticket").count() == 0
    # Once nothing is open, the pair may move; the old links go with the old slave.
    assert moved.status_code == 200 and moved.json()["slave"] == other.pk
    assert lots(other) == [0.03]
    assert list(CopyLink.objects.values_list("slave_id", flat=True)) == [other.pk]


@pytest.mark.django_db
def test_an_operator_cannot_repoint_a_pair_in_the_admin(client, operator, alice, bob, paper):
    a, b = paper("A"), paper("B")
    bobs = paper("Bob's", owner=bob)
    made, _ = pair(a, b)
    client.force_login(operator)

    url = f"/admin/copytrading/copypair/{made.pk}/change/"
    form = {"owner": bob.pk, "master": b.pk, "slave": bobs.pk, "volume_mode": "fixed", "multiplier": "1",
            "fixed_volume": "0.01", "symbol_map": '{"xauusd": "GOLD"}', "active": "on"}  # fmt: skip

    page = client.get(url)
    saved = client.post(url, form)
    not_a_map = client.post(url, {**form, "symbol_map": '["GOLD"]'})

    assert page.status_code == 200 and saved.status_code == 302
    made.refresh_from_db()
    # Accounts and owner are shown, not edited: the checks of pair_create (cycles, one
    # trader's accounts) and open copies are the service's.
    assert (made.owner_id, made.master_id, made.slave_id) == (alice.pk, a.pk, b.pk)
    assert made.volume_mode == "fixed" and made.symbol_map == {"XAUUSD": "GOLD"}
    assert not_a_map.status_code == 200 and "must be an object" in not_a_map.content.decode()


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_two_closes_of_one_master_at_once_each_take_their_share_of_what_is_open(paper, trade, hook):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=1)
    drain_all()
    # Both deliveries read the master's open volume before either stores its close.
    together = threading.Barrier(2, timeout=1)

    def read_together(sender, **kwargs):
        with suppress(threading.BrokenBarrierError):  # the other one waits its turn: this one goes on alone
            together.wait()

    hook(hooks.intake_open_volume_read, read_together)

    def close(deal: str) -> None:
        copy_event_receive(master=master, event=MasterEvent("deal_close", "1", volume=Decimal("0.25"), sequence=deal))

    assert at_once(lambda: close("2"), lambda: close("3")) == []
    drain_all()

    # 1 lot less a quarter, then a third of the 0.75 left: 0.5, not 0.57 (a quarter of a stale 1 lot twice).
    assert lots(slave) == [0.5]
    assert master_open_volume(master=master, order_id="1") == Decimal("0.5")


@pytest.mark.django_db
def test_an_addition_to_an_open_that_was_refused_is_refused_too(paper, trade):
    master, slave = paper("M"), netting(paper("S"))
    TradingAccount.objects.filter(pk=slave.pk).update(max_lot=Decimal("1"))
    _, key = pair(master, slave)

    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=2, deal="1")
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.5, deal="2")
    drain_all()
    close = trade(key, master, event="deal_close", order_id="1", volume=2.5, deal="3")
    drain_all()

    opened, added = Order.objects.filter(account=slave).order_by("pk")
    assert opened.status == "rejected" and added.status == "rejected"
    assert "was not opened" in added.status_reason
    assert lots(slave) == [] and close.json()["status"] == "skipped"


@pytest.mark.django_db
@pytest.mark.parametrize("first_closed", ["M1", "M2"])
def test_a_netting_slave_copying_two_masters_closes_only_each_masters_share(two_masters, trade, first_closed):
    (m1, key1), (m2, key2), slave = two_masters
    keys = {"M1": (key1, m1), "M2": (key2, m2)}

    trade(key1, m1, event="deal_add", order_id="10", symbol="BTCUSD", type="BUY", volume=0.02, deal="1")
    drain_all()
    trade(key2, m2, event="deal_add", order_id="20", symbol="BTCUSD", type="BUY", volume=0.03, deal="2")
    drain_all()
    joined = lots(slave)
    key, master = keys[first_closed]
    trade(key, master, event="deal_close", order_id="10" if first_closed == "M1" else "20", deal="3")
    drain_all()
    left = lots(slave)
    key, master = keys["M2" if first_closed == "M1" else "M1"]
    trade(key, master, event="deal_close", order_id="20" if first_closed == "M1" else "10", deal="4")
    drain_all()

    assert joined == [0.05]  # netting: one position
    assert left == ([0.03] if first_closed == "M1" else [0.02])
    assert lots(slave) == []
    closes = Order.objects.filter(account=slave, action="close_ticket")
    assert list(closes.values_list("status", flat=True)) == ["filled", "filled"]
    assert not CopyLink.objects.filter(closed_at__isnull=True).exists()
    assert CopyEvent.objects.filter(status="error").count() == 0 and CopyPair.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_close_received_while_a_refused_open_is_recorded_leaves_the_link_closed(paper, trade, hook):
    master, slave = paper("M"), paper("S")
    TradingAccount.objects.filter(pk=slave.pk).update(max_lot=Decimal("1"))
    _, key = pair(master, slave)
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=2)  # refused: above 1 lot
    recording, read, recorded = threading.Event(), threading.Event(), threading.Event()

    def link_change(sender, **kwargs):  # the drain, recording the refusal with the link locked
        recording.set()
        read.wait(timeout=2)  # the close's intake reads the link meanwhile, unless it waits for the lock

    def fan_out(sender, **kwargs):  # the intake, after reading the links, before writing them
        read.set()
        recorded.wait(timeout=5)

    hook(hooks.outcome_links_locked, link_change)
    hook(hooks.fan_out_links_locked, fan_out)

    def drain() -> None:
        drain_all()
        recorded.set()

    def close() -> None:
        recording.wait(timeout=5)
        copy_event_receive(master=master, event=MasterEvent("deal_close", "1", volume=Decimal("1"), sequence="2"))

    assert at_once(drain, close) == []

    assert CopyLink.objects.get().closed_at is not None
    assert CopyEvent.objects.get(kind="deal_close").status == "skipped"
    assert not Order.objects.filter(action="close_ticket").exists()


@pytest.mark.django_db
def test_a_netting_slaves_close_of_one_masters_lots_passes_on_as_that_part(paper, trade):
    m1, m2, shared, below = paper("M1"), paper("M2"), netting(paper("S")), netting(paper("T"))
    _, key1 = pair(m1, shared)
    _, key2 = pair(m2, shared)
    pair(shared, below)

    trade(key1, m1, event="deal_add", order_id="10", symbol="BTCUSD", type="BUY", volume=0.02, deal="1")
    drain_all()
    trade(key2, m2, event="deal_add", order_id="20", symbol="BTCUSD", type="BUY", volume=0.03, deal="2")
    drain_all()
    joined = lots(shared), lots(below)
    trade(key1, m1, event="deal_close", order_id="10", deal="3")
    drain_all()
    left = lots(shared), lots(below)
    trade(key2, m2, event="deal_close", order_id="20", deal="4")
    drain_all()

    assert joined == ([0.05], [0.05])
    # S closed M1's 0.02 of its one position: T closes the same part, not all of it.
    assert left == ([0.03], [0.03])
    assert lots(shared) == lots(below) == []


@pytest.mark.django_db
def test_a_copy_whose_position_closed_on_the_slave_does_not_close_another_copys(two_masters, trade):
    (m1, key1), (m2, key2), slave = two_masters
    trade(key1, m1, event="deal_add", order_id="10", symbol="BTCUSD", type="BUY", volume=0.02, deal="1")
    drain_all()
    [stopped] = positions(slave)
    by_hand(slave, volume=0.02, type=OrderType.SELL, position=stopped.ticket)  # its stop loss, say
    trade(key2, m2, event="deal_add", order_id="20", symbol="BTCUSD", type="BUY", volume=0.03, deal="2")
    drain_all()

    reply = trade(key1, m1, event="deal_close", order_id="10", deal="3")
    drain_all()

    assert lots(slave) == [0.03]  # M2's copy, whole
    [closing] = CopyExecution.objects.filter(event_id=reply.json()["event"])
    assert closing.status == "error" and f"No open position {stopped.ticket}" in closing.error


@pytest.mark.django_db
def test_a_close_the_terminal_did_not_size_counts_as_what_it_asked(two_masters, trade):
    (m1, key1), (m2, key2), slave = two_masters
    trade(key1, m1, event="deal_add", order_id="10", symbol="BTCUSD", type="BUY", volume=0.04, deal="1")
    trade(key2, m2, event="deal_add", order_id="20", symbol="BTCUSD", type="BUY", volume=0.03, deal="2")
    drain_all()
    trade(key1, m1, event="deal_close", order_id="10", volume=0.02, deal="3")
    drain_all()
    Order.objects.filter(action="close_ticket").update(filled_volume=None)  # an answer without a volume

    trade(key1, m1, event="deal_close", order_id="10", deal="4")
    drain_all()

    assert lots(slave) == [0.03]
    assert not Order.objects.filter(status__in=["queued", "sending"]).exists()


@pytest.mark.django_db
def test_a_pair_keeps_its_accounts_while_a_close_of_its_copies_is_on_its_way(api_client, alice, paper, trade):
    master, slave, other, below = paper("M"), paper("B"), paper("C"), paper("D")
    made, key = pair(master, slave)
    pair(slave, below)
    trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.02)
    drain_all()
    trade(key, master, event="deal_close", order_id="1")  # queued: the link already reads closed
    api_client.force_login(alice)

    refused = api_client.patch(f"/api/copy/pairs/{made.pk}/", {"slave": other.pk}, format="json")
    drain_all()

    assert refused.status_code == 400 and "still being carried out" in refused.json()["errors"]["slave"][0]
    assert lots(slave) == lots(below) == []  # the close passed on to B's own slave


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_drain_passing_fills_on_and_an_intake_of_the_same_master_do_not_deadlock(paper, trade, hook):
    top, middle, bottom = paper("M"), paper("S2"), paper("S1")
    _, top_key = pair(top, middle)
    _, middle_key = pair(middle, bottom)
    trade(middle_key, middle, event="deal_add", order_id="P", symbol="BTCUSD", type="BUY", volume=0.01, deal="1")
    trade(top_key, top, event="deal_add", order_id="X", symbol="BTCUSD", type="BUY", volume=0.01, deal="2")
    locked, started = threading.Event(), threading.Event()

    def links_then_wait(sender, **kwargs):  # the drain, its orders' links locked, before passing X's fill on
        locked.set()
        started.wait(timeout=2)
        time.sleep(0.3)  # the intake reaches its locks meanwhile

    hook(hooks.outcome_links_locked, links_then_wait)

    def modify() -> None:  # S2 moves P's stops while its drain records
        locked.wait(timeout=5)
        started.set()
        copy_event_receive(master=middle, event=MasterEvent("position_modify", "P", sl=Decimal("1000"), sequence="m1"))

    failures = at_once(lambda: accounts_drain(sorted([middle.pk, bottom.pk])), modify)
    hook.undo()
    drain_all()

    assert failures == []
    assert not CopyExecution.objects.filter(status="pending").exists()
    assert lots(bottom) == [0.01, 0.01]  # P, and X passed on from S2


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_pair_moved_while_its_master_fans_out_waits_and_is_refused(paper, trade, hook):
    master, slave, other = paper("M"), paper("B"), paper("C")
    made, key = pair(master, slave)
    fanning = threading.Event()

    def fan_out(sender, **kwargs):  # the intake, its master's row locked, about to create the copy
        fanning.set()
        time.sleep(0.5)  # the move reaches its locks meanwhile

    hook(hooks.fan_out_links_locked, fan_out)

    def move() -> None:
        fanning.wait(timeout=5)
        services.pair_update(pair=CopyPair.objects.get(pk=made.pk), slave=other)

    def fan_out() -> None:
        trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.02)

    outcome = at_once(move, fan_out)  # the move refused: what it raised
    drain_all()

    assert len(outcome) == 1 and "still open on B" in str(outcome[0])
    assert CopyPair.objects.get(pk=made.pk).slave_id == slave.pk and lots(slave) == [0.02]
