"""Master events become slave orders that fill on the simulated terminals: volume rules with
the brokers' real steps, symbol mapping, links, partial closes, modifies, one→many,
many→one, cascades and duplicates."""

from decimal import Decimal

import pytest

from copytrading import hooks
from copytrading.events import MAX_ORDER_ID
from copytrading.models import CopyEvent, CopyExecution, CopyLink, CopyPair
from copytrading.services import copy_orders_finished, copy_outcomes_sweep, pair_create
from live.models import Event
from terminals.gateway import simulated_driver
from terminals.models import Order, SimAccount
from terminals.services import account_heartbeat
from tests.copytrading.conftest import drain_all, positions


def pair(master, slave, **rule):
    made, key = pair_create(owner=master.owner, master=master, slave=slave, **rule)
    return made, key


def executions(event_id: int) -> dict:
    return {e.slave_id: e for e in CopyExecution.objects.filter(event_id=event_id).select_related("order")}


@pytest.mark.django_db
def test_one_master_to_many_slaves_fills_each_with_its_rule_symbol_and_link(paper, trade):
    master, gold, plain = paper("M"), paper("S1", "SimBroker-Demo"), paper("S2")
    _, key = pair(master, gold, volume_mode="multiply", multiplier=Decimal("0.5"))
    pair(master, plain, volume_mode="fixed", fixed_volume=Decimal("0.03"))

    reply = trade(key, master, event="deal_add", order_id="order_12345", symbol="XAUUSD", type="BUY", volume=0.37,
                  sl=2300.0, tp=2500.0)  # fmt: skip
    drain_all()

    assert reply.status_code == 200
    assert reply.json() | {"event": 0} == {
        "success": True, "message": "Signal processed", "pairs_processed": 2, "event": 0, "status": "processed",
    }  # fmt: skip
    [on_gold] = positions(gold)
    [on_plain] = positions(plain)
    # 0.37 * 0.5 = 0.185, rounded down to GOLD's step of 0.01.
    assert (on_gold.symbol, on_gold.volume, on_gold.sl, on_gold.tp) == ("GOLD", 0.18, 2300.0, 2500.0)
    assert (on_plain.symbol, on_plain.volume) == ("XAUUSD", 0.03)
    opened = Order.objects.get(account=gold)
    assert opened.source == "copy" and opened.status == "filled"
    assert on_gold.comment == f"COPY_order_12345 {opened.client_id}" and len(on_gold.comment) <= 31
    rows = executions(reply.json()["event"])
    assert (rows[gold.pk].status, rows[gold.pk].volume_before, rows[gold.pk].volume_after) == (
        "success", Decimal("0.1850"), Decimal("0.1800"),
    )  # fmt: skip
    assert rows[gold.pk].symbol == "GOLD" and rows[plain.pk].volume_after == Decimal("0.03")
    link = CopyLink.objects.get(slave=gold)
    assert link.slave_ticket == on_gold.ticket and link.master_order_id == "order_12345"


@pytest.mark.django_db
def test_a_long_master_order_id_is_cut_in_the_comment_and_the_link_still_closes_it(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)
    order_id = "order-" + "9" * 40

    trade(key, master, event="deal_add", order_id=order_id, symbol="BTCUSD", type="SELL", volume=0.02)
    drain_all()
    [opened] = positions(slave)
    trade(key, master, event="deal_close", order_id=order_id, volume=0.02)
    drain_all()

    assert len(opened.comment) == 31 and opened.comment.startswith("COPY_order-999")
    assert positions(slave) == []
    # The order itself keeps the whole id (the history shows it, an EA bridge's slave command carries it).
    assert set(Order.objects.filter(account=slave).values_list("link", flat=True)) == {f"COPY_{order_id}"}


@pytest.mark.django_db
def test_a_master_order_id_of_the_longest_allowed_length_is_copied_whole(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)
    order_id = "x" * MAX_ORDER_ID

    reply = trade(key, master, event="deal_add", order_id=order_id, symbol="BTCUSD", type="BUY", volume=0.01)
    drain_all()

    [copied] = Order.objects.filter(account=slave)
    assert reply.status_code == 200 and copied.status == "filled" and copied.link == f"COPY_{order_id}"


@pytest.mark.django_db
def test_multiply_rounds_down_to_a_step_of_a_tenth_and_clamps_to_the_maximum(paper, trade):
    master, indices, crypto = paper("M"), paper("IDX", "SimBroker-Demo"), paper("BTC", "SimBroker-Demo")
    _, key = pair(master, indices)
    crypto_pair, _ = pair(master, crypto, multiplier=Decimal("2"))

    trade(key, master, event="deal_add", order_id="1", symbol="US30", type="BUY", volume=0.37)
    trade(key, master, event="deal_add", order_id="2", symbol="BTCUSD", type="BUY", volume=4)
    drain_all()

    # US30.cash steps by 0.1 lots: 0.37 → 0.3 and 0.74 → 0.7. BTCUSD at SimBroker allows 5 lots at most: 8 → 5.
    assert sorted((p.symbol, p.volume) for p in positions(indices)) == [("BTCUSD", 4.0), ("US30.cash", 0.3)]
    assert sorted((p.symbol, p.volume) for p in positions(crypto)) == [("BTCUSD", 5.0), ("US30.cash", 0.7)]
    clamped = CopyExecution.objects.get(pair=crypto_pair, event__order_id="2")
    assert (clamped.volume_before, clamped.volume_after) == (Decimal("8.0000"), Decimal("5.0000"))


@pytest.mark.django_db
def test_below_the_minimum_that_slave_is_rejected_with_the_volume_and_reason(paper, trade):
    master, indices, crypto = paper("M"), paper("IDX", "SimBroker-Demo"), paper("BTC")
    _, key = pair(master, indices)
    pair(master, crypto)

    reply = trade(key, master, event="deal_add", order_id="7", symbol="US30", type="SELL", volume=0.05)
    drain_all()

    rows = executions(reply.json()["event"])
    assert rows[indices.pk].status == "error" and rows[indices.pk].order.status == "rejected"
    assert "0.05 lots is below US30.cash's minimum of 0.1" in rows[indices.pk].error
    assert positions(indices) == []
    # US30 at the standard broker takes 0.1 too: the same rule, the same refusal, nothing sent.
    assert rows[crypto.pk].status == "error" and positions(crypto) == []


def _balance(account, amount: str) -> None:
    SimAccount.objects.filter(login=int(account.login)).update(balance=Decimal(amount))
    account_heartbeat(account=account, info=simulated_driver(account).account_info())


@pytest.mark.django_db
def test_percent_uses_the_heartbeat_balances(paper, trade):
    master, slave = paper("M"), paper("S")
    _balance(master, "20000")
    _balance(slave, "5000")
    _, key = pair(master, slave, volume_mode="percent", multiplier=Decimal("1.5"))

    trade(key, master, event="deal_add", order_id="1", symbol="XAUUSD", type="BUY", volume=0.9)
    drain_all()

    # 5000 / 20000 * 0.9 * 1.5 = 0.3375 → 0.33 at XAUUSD's step.
    assert [p.volume for p in positions(slave)] == [0.33]


@pytest.mark.django_db
def test_percent_without_a_heartbeat_says_so_and_sends_nothing(paper, trade):
    master, slave = paper("M"), paper("S")
    slave.__class__.objects.filter(pk=slave.pk).update(heartbeat_at=None)
    _, key = pair(master, slave, volume_mode="percent")

    reply = trade(key, master, event="deal_add", order_id="1", symbol="XAUUSD", type="BUY", volume=0.9)

    assert reply.json()["status"] == "error" and reply.json()["pairs_processed"] == 0
    [execution] = CopyExecution.objects.all()
    assert "latest heartbeat" in execution.error and "S has not reported" in execution.error
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_partial_closes_take_the_same_share_of_each_slave_position(paper, trade):
    master, slave = paper("M"), paper("S", "SimBroker-Demo")
    _, key = pair(master, slave, multiplier=Decimal("0.5"))

    trade(key, master, event="deal_add", order_id="42", symbol="XAUUSD", type="BUY", volume=1.0)
    drain_all()
    first = trade(key, master, event="deal_close", order_id="42", volume=0.4)
    drain_all()
    after_first = [p.volume for p in positions(slave)]
    second = trade(key, master, event="deal_close", order_id="42", volume=0.6)
    drain_all()

    assert first.json()["pairs_processed"] == 1 and second.json()["pairs_processed"] == 1
    assert after_first == [0.3]  # 0.5 lots, 40 % closed
    assert positions(slave) == []
    link = CopyLink.objects.get()
    assert link.closed_at is not None and link.volume == 0


@pytest.mark.django_db
def test_a_close_queued_before_its_open_filled_closes_it_after(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)

    trade(key, master, event="deal_add", order_id="5", symbol="BTCUSD", type="BUY", volume=0.05)
    trade(key, master, event="deal_close", order_id="5")
    drain_all()

    assert positions(slave) == []
    assert list(Order.objects.order_by("pk").values_list("action", "status")) == [
        ("open", "filled"), ("close_ticket", "filled"),
    ]  # fmt: skip


@pytest.mark.django_db
def test_modify_moves_the_slave_stops_where_copying_them_is_on(paper, trade):
    master, copying, not_copying = paper("M"), paper("S1", "SimBroker-Demo"), paper("S2")
    _, key = pair(master, copying)
    pair(master, not_copying, copy_sl_tp=False)

    trade(key, master, event="deal_add", order_id="9", symbol="XAUUSD", type="BUY", volume=0.1, sl=2300, tp=2500)
    drain_all()
    reply = trade(key, master, event="position_modify", order_id="9", sl=2350.123, tp=2450)
    drain_all()

    [moved] = positions(copying)
    [kept] = positions(not_copying)
    assert (moved.sl, moved.tp) == (2350.12, 2450.0)
    assert (kept.sl, kept.tp) == (0.0, 0.0)
    rows = executions(reply.json()["event"])
    assert rows[copying.pk].status == "success" and rows[copying.pk].order.action == "modify_sltp"
    assert rows[not_copying.pk].status == "skipped" and "off" in rows[not_copying.pk].error


@pytest.mark.django_db
def test_many_masters_to_one_slave_keep_their_positions_apart(paper, trade):
    first, second, slave = paper("M1"), paper("M2"), paper("S")
    _, first_key = pair(first, slave)
    _, second_key = pair(second, slave)

    trade(first_key, first, event="deal_add", order_id="100", symbol="BTCUSD", type="BUY", volume=0.01)
    trade(second_key, second, event="deal_add", order_id="100", symbol="BTCUSD", type="BUY", volume=0.02)
    drain_all()
    trade(first_key, first, event="deal_close", order_id="100", volume=0.01)
    drain_all()

    assert [p.volume for p in positions(slave)] == [0.02]


@pytest.mark.django_db
def test_a_three_level_cascade_opens_closes_part_and_modifies_down_the_chain(paper, trade):
    a, b, c, d = paper("A"), paper("B", "SimBroker-Demo"), paper("C"), paper("D", "SimBroker-Demo")
    _, key = pair(a, b)
    pair(b, c, multiplier=Decimal("2"))
    pair(c, d, volume_mode="fixed", fixed_volume=Decimal("0.5"))

    trade(key, a, event="deal_add", order_id="T1", symbol="XAUUSD", type="SELL", volume=0.2, sl=2600, tp=2200)
    drain_all()
    opened = [[(p.symbol, p.volume) for p in positions(x)] for x in (b, c, d)]
    trade(key, a, event="deal_close", order_id="T1", volume=0.1)
    drain_all()
    halved = [[p.volume for p in positions(x)] for x in (b, c, d)]
    trade(key, a, event="position_modify", order_id="T1", sl=2550, tp=2250)
    drain_all()
    stops = [[(p.sl, p.tp) for p in positions(x)] for x in (b, c, d)]
    trade(key, a, event="deal_close", order_id="T1")
    drain_all()

    assert opened == [[("GOLD", 0.2)], [("XAUUSD", 0.4)], [("GOLD", 0.5)]]
    assert halved == [[0.1], [0.2], [0.25]]
    assert stops == [[(2550.0, 2250.0)]] * 3
    assert [positions(x) for x in (b, c, d)] == [[], [], []]
    assert set(CopyEvent.objects.filter(master__in=[b, c]).values_list("source", flat=True)) == {"cascade"}


@pytest.mark.django_db
def test_the_same_event_delivered_twice_copies_once(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)
    body = {"event": "deal_add", "order_id": "dup", "symbol": "BTCUSD", "type": "BUY", "volume": 0.03}

    first, again = trade(key, master, **body), trade(key, master, **body)
    drain_all()
    close = {"event": "deal_close", "order_id": "dup", "volume": 0.01}
    trade(key, master, **close), trade(key, master, **close)
    drain_all()

    assert first.json() == again.json() and first.json()["pairs_processed"] == 1
    assert [p.volume for p in positions(slave)] == [0.02]
    assert Order.objects.filter(account=slave).count() == 2
    assert CopyEvent.objects.count() == 2


@pytest.mark.django_db
def test_closes_carrying_the_masters_deal_ticket_are_told_apart_and_repeats_are_not(paper, trade):
    master, slave = paper("M"), paper("S")
    _, key = pair(master, slave)
    trade(key, master, event="deal_add", order_id="77", symbol="BTCUSD", type="BUY", volume=0.04, deal=1)

    for deal in (2, 2, 3, 3):
        trade(key, master, event="deal_close", order_id="77", volume=0.01, deal=deal)
    drain_all()

    assert [p.volume for p in positions(slave)] == [0.02]
    assert CopyEvent.objects.filter(kind="deal_close").count() == 2


@pytest.mark.django_db
def test_a_symbol_one_slave_cannot_map_fails_only_there(paper, trade):
    master, plain, suffixed = paper("M"), paper("S1"), paper("S2", "SimBroker-Demo")
    _, key = pair(master, plain)
    pair(master, suffixed)

    reply = trade(key, master, event="deal_add", order_id="1", symbol="ETHUSD", type="BUY", volume=0.1)
    drain_all()

    assert reply.status_code == 200 and reply.json()["pairs_processed"] == 1
    rows = executions(reply.json()["event"])
    assert rows[suffixed.pk].status == "error" and "ETHUSD" in rows[suffixed.pk].error
    assert rows[suffixed.pk].order is None
    assert [p.symbol for p in positions(plain)] == ["ETHUSD"]


@pytest.mark.django_db
def test_custom_map_and_mapping_off(paper, trade):
    master, mapped, strict = paper("M"), paper("S1", "SimBroker-Demo"), paper("S2", "SimBroker-Demo")
    _, key = pair(master, mapped, symbol_map={"xauusd": "GOLD"}, auto_symbol_map=False)
    pair(master, strict, auto_symbol_map=False)

    reply = trade(key, master, event="deal_add", order_id="1", symbol="XAUUSD", type="BUY", volume=0.1)
    drain_all()

    assert [p.symbol for p in positions(mapped)] == ["GOLD"]
    assert "automatic symbol mapping is off" in executions(reply.json()["event"])[strict.pk].error


@pytest.mark.django_db
def test_an_inactive_pair_copies_nothing(paper, trade):
    master, slave = paper("M"), paper("S")
    made, key = pair(master, slave)
    CopyPair.objects.filter(pk=made.pk).update(active=False)

    reply = trade(key, master, event="deal_add", order_id="1", symbol="BTCUSD", type="BUY", volume=0.1)

    assert reply.status_code == 200 and reply.json()["pairs_processed"] == 0
    assert reply.json()["status"] == "skipped" and Order.objects.count() == 0


@pytest.mark.django_db
def test_a_slave_whose_bookkeeping_fails_keeps_none_of_the_others_of_its_round_waiting(paper, trade, hook):
    a, b, c, d = paper("A"), paper("B"), paper("C"), paper("D")
    _, key = pair(a, b)
    pair(a, c)
    pair(b, d)

    def broken_for_b(order, **kwargs):
        if order.account_id == b.pk:
            raise RuntimeError("B's cascade is broken")

    hook(hooks.fill_passing_on, broken_for_b)
    event = trade(key, a, event="deal_add", order_id="r1", symbol="BTCUSD", type="BUY", volume=0.02).json()["event"]
    drain_all()  # B and C fill in one round; its bookkeeping fails with B's cascade and is undone

    assert {e.status for e in executions(event).values()} == {"pending"}
    assert copy_outcomes_sweep() == 1  # C's, one by one; B's still fails
    assert executions(event)[c.pk].status == "success" and executions(event)[b.pk].status == "pending"

    hook.undo()
    assert copy_outcomes_sweep() == 1
    drain_all()
    assert executions(event)[b.pk].status == "success"
    assert [p.volume for p in positions(d)] == [0.02]


@pytest.mark.django_db
def test_an_outcome_the_worker_died_before_recording_is_recorded_and_cascaded_once(paper, trade):
    from terminals.signals import orders_finished

    a, b, c = paper("A"), paper("B"), paper("C")
    _, key = pair(a, b)
    pair(b, c)
    trade(key, a, event="deal_add", order_id="lost", symbol="BTCUSD", type="BUY", volume=0.03)
    # The worker dies between the fill and its copy bookkeeping: nothing past the order row happens.
    orders_finished.disconnect(dispatch_uid="copytrading.orders_finished")
    try:
        drain_all()
    finally:
        orders_finished.connect(copy_orders_finished, dispatch_uid="copytrading.orders_finished")
    stranded = CopyExecution.objects.get(slave=b)

    assert copy_outcomes_sweep() == 1
    assert copy_outcomes_sweep() == 0
    drain_all()

    assert stranded.status == "pending"
    stranded.refresh_from_db()
    assert stranded.status == "success" and CopyLink.objects.get(slave=b).slave_ticket is not None
    assert [p.volume for p in positions(c)] == [0.03]
    assert Order.objects.filter(account=c).count() == 1


@pytest.mark.django_db
def test_the_live_stream_gets_the_event_with_every_slave_then_each_slaves_outcome_alone(paper, trade):
    master, slaves = paper("M"), [paper(f"S{n}") for n in range(3)]
    keys = [pair(master, slave)[1] for slave in slaves]

    reply = trade(keys[0], master, event="deal_add", order_id="o1", symbol="XAUUSD", type="BUY", volume=0.1)
    drain_all()

    published = [e.payload for e in Event.objects.filter(kind="copy_event").order_by("pk")]
    received, *outcomes = published
    event_id = reply.json()["event"]
    assert received["id"] == event_id and len(received["executions"]) == 3
    assert {e["status"] for e in received["executions"]} == {"pending"}
    # One per slave as it settles, with only its own execution: N slaves cost N, not N².
    assert len(outcomes) == 3 and all(o["id"] == event_id and len(o["executions"]) == 1 for o in outcomes)
    assert sorted(o["executions"][0]["slave"] for o in outcomes) == sorted(s.pk for s in slaves)
    assert all(o["executions"][0]["status"] == "success" and o["executions"][0]["latency_ms"] >= 0 for o in outcomes)
