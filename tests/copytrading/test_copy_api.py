"""/api/copy/*: keys, bad input, pairs, history and tenancy."""

import json
import threading

import pytest
from django.db import connection

from copytrading.models import CopyEvent, CopyPair
from copytrading.services import pair_create
from terminals.models import Order
from tests.copytrading.conftest import drain_all, positions

DEAL = {"event": "deal_add", "order_id": "order_1", "symbol": "BTCUSD", "type": "BUY", "volume": 0.02}


@pytest.fixture
def copied(paper):
    master, slave = paper("Master"), paper("Slave")
    made, key = pair_create(owner=master.owner, master=master, slave=slave)
    return made, key, master, slave


@pytest.mark.django_db
def test_the_key_may_come_as_a_header(copied, trade):
    _, key, master, slave = copied

    reply = trade(None, master, headers={"X-API-Key": key}, **DEAL)
    drain_all()

    assert reply.status_code == 200 and reply.json()["pairs_processed"] == 1
    assert [p.volume for p in positions(slave)] == [0.02]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["cpk_wrong", "", None, "x" * 500])
def test_a_wrong_key_is_401_and_copies_nothing(copied, trade, key):
    _, _, master, _ = copied

    reply = trade(key, master, **DEAL)

    assert reply.status_code == 401 and reply.json()["success"] is False
    assert CopyEvent.objects.count() == 0 and Order.objects.count() == 0


@pytest.mark.django_db
def test_a_rotated_key_fails_at_once_and_the_new_one_works(copied, trade, api_client, alice):
    made, old, master, _ = copied
    api_client.force_login(alice)

    new = api_client.post(f"/api/copy/pairs/{made.pk}/rotate-key").json()["api_key"]

    assert trade(old, master, **DEAL).status_code == 401
    assert Order.objects.count() == 0
    assert trade(new, master, **DEAL).status_code == 200
    assert api_client.post(f"/api/copy/pairs/{made.pk}/key").json() == {"api_key": new}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": "deal_open"}, "event"),
        ({"volume": "NaN"}, "volume"),
        ({"volume": -1}, "volume"),
        ({"volume": "Infinity"}, "volume"),
        ({"volume": 0}, "volume"),
        ({"type": "HOLD"}, "type"),
        ({"symbol": ""}, "symbol"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"volume": [1]}, "volume"),
    ],
)
def test_bad_events_are_400_naming_the_field_and_change_nothing(copied, trade, change, field):
    _, key, master, _ = copied

    reply = trade(key, master, **{**DEAL, **change})

    assert reply.status_code == 400 and field in reply.json()["errors"]
    assert CopyEvent.objects.count() == 0 and Order.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "stored"),
    [
        ({"volume": "0.10"}, ("0.1000", None, None)),
        ({"volume": " 2.5 "}, ("2.5000", None, None)),
        ({"volume": 7}, ("7.0000", None, None)),
        ({"volume": "1E+2"}, ("100.0000", None, None)),
        ({"volume": "1_000"}, ("1000.0000", None, None)),  # any text Decimal() reads
        ({"volume": "\u0661"}, ("1.0000", None, None)),  # an Arabic-Indic 1
        ({"volume": "1e-4"}, ("0.0001", None, None)),  # the smallest step
        ({"volume": "0.00015"}, ("0.0002", None, None)),  # rounded half to even
        ({"volume": "1000000"}, ("1000000.0000", None, None)),  # the maximum itself
        ({"sl": "0", "tp": "-0"}, ("0.0200", None, None)),  # a stop of 0 is no stop
        ({"sl": 1e11, "tp": "0.00000001"}, ("0.0200", "100000000000.00000000", "0.00000001")),
    ],
)
def test_the_numbers_an_event_accepts_and_how_they_are_kept(copied, trade, change, stored):
    _, key, master, _ = copied

    reply = trade(key, master, **{**DEAL, **change})

    assert reply.status_code == 200
    event = CopyEvent.objects.get()
    assert tuple(None if v is None else f"{v:f}" for v in (event.volume, event.sl, event.tp)) == stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"volume": True}, "volume must be a number."),
        ({"volume": {"lots": 1}}, "volume must be a number."),
        ({"volume": "abc"}, "volume must be a number, not 'abc'."),
        ({"volume": " "}, "volume must be a number, not ' '."),
        ({"volume": "1,5" * 10}, "volume must be a number, not '1,51,51,51,51,51,51,'."),
        ({"volume": "NaN"}, "volume must be a finite number of 0 or more."),
        ({"volume": "sNaN"}, "volume must be a finite number of 0 or more."),
        ({"volume": "-Infinity"}, "volume must be a finite number of 0 or more."),
        ({"volume": "-0.5"}, "volume must be a finite number of 0 or more."),
        ({"volume": 0}, "volume must be more than 0."),
        ({"volume": "0.00009"}, "volume must be 0 or at least 0.0001."),
        ({"volume": "1e-999999999"}, "volume must be 0 or at least 0.0001."),
        ({"volume": "1000000.0001"}, "volume must be at most 1000000."),
        ({"volume": "1e999999999"}, "volume must be at most 1000000."),
        ({"sl": "0.000000001"}, "sl must be 0 or at least 0.00000001."),
        ({"tp": 100000000001}, "tp must be at most 100000000000."),
    ],
)
def test_the_numbers_an_event_refuses_and_what_it_says(copied, trade, change, message):
    _, key, master, _ = copied

    reply = trade(key, master, **{**DEAL, **change})

    assert reply.status_code == 400
    errors = {field: [message] for field in change}
    assert reply.json() == {"success": False, "detail": "The event is not valid.", "errors": errors}
    assert CopyEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"volume": NaN}'])
def test_a_body_that_is_not_an_object_is_400(copied, body, client):
    reply = client.post("/api/copy/trade", body, content_type="application/json")

    assert reply.status_code == 400 and reply.json()["success"] is False


@pytest.mark.django_db
def test_a_close_of_an_order_never_opened_is_recorded_skipped_and_sends_nothing(copied, trade):
    _, key, master, _ = copied

    reply = trade(key, master, event="deal_close", order_id="never", volume=0.1)

    assert reply.status_code == 422
    assert reply.json()["success"] is False and "never opened" in reply.json()["message"]
    event = CopyEvent.objects.get()
    assert (event.status, event.pairs_processed) == ("skipped", 0)
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_an_account_that_is_not_the_pairs_master_is_403(copied, trade):
    _, key, _, slave = copied

    reply = trade(key, slave, **DEAL)

    assert reply.status_code == 403 and "not this pair's master" in reply.json()["detail"]
    assert CopyEvent.objects.count() == 0 and Order.objects.count() == 0


@pytest.mark.django_db
def test_another_traders_key_never_reaches_alices_accounts(copied, trade, paper, bob):
    _, _, alices_master, alices_slave = copied
    bobs_master, bobs_slave = paper("BM", owner=bob), paper("BS", owner=bob)
    _, bobs_key = pair_create(owner=bob, master=bobs_master, slave=bobs_slave)

    reply = trade(bobs_key, alices_master, **DEAL)

    assert reply.status_code == 403
    assert Order.objects.count() == 0 and positions(alices_slave) == []


@pytest.mark.django_db
def test_a_trader_creates_a_pair_and_sees_its_key_once(api_client, alice, paper):
    master, slave = paper("M"), paper("S")
    api_client.force_login(alice)

    created = api_client.post(
        "/api/copy/pairs",
        {"master": master.pk, "slave": slave.pk, "volume_mode": "multiply", "multiplier": "2.5",
         "copy_sl_tp": False, "symbol_map": {"xauusd": "GOLD"}},
        format="json",
    )  # fmt: skip
    listed = api_client.get("/api/copy/pairs/")

    assert created.status_code == 201
    body = created.json()
    assert body["api_key"].startswith("cpk_") and body["multiplier"] == "2.5000"
    assert body["symbol_map"] == {"XAUUSD": "GOLD"} and body["copy_sl_tp"] is False
    assert body["api_key"] not in json.dumps(listed.json())
    assert [p["id"] for p in listed.json()["results"]] == [body["id"]]
    stored = CopyPair.objects.get()
    assert body["api_key"] not in (stored.key_digest, stored.key_ciphertext)


@pytest.mark.django_db
def test_pairs_are_edited_toggled_and_deleted_with_or_without_a_slash(api_client, alice, paper):
    made, _ = pair_create(owner=alice, master=paper("M"), slave=paper("S"))
    api_client.force_login(alice)

    patched = api_client.patch(f"/api/copy/pairs/{made.pk}", {"volume_mode": "fixed", "fixed_volume": "0.05"},
                               format="json")  # fmt: skip
    toggled = api_client.post(f"/api/copy/pairs/{made.pk}/toggle/")
    again = api_client.post(f"/api/copy/pairs/{made.pk}/toggle")
    shown = api_client.get(f"/api/copy/pairs/{made.pk}")
    deleted = api_client.delete(f"/api/copy/pairs/{made.pk}/")

    assert patched.status_code == 200 and patched.json()["fixed_volume"] == "0.05"
    assert (toggled.json()["active"], again.json()["active"]) == (False, True)
    assert shown.json()["volume_mode"] == "fixed"
    assert deleted.status_code == 204 and not CopyPair.objects.exists()


@pytest.mark.django_db
def test_a_pair_closing_a_cycle_is_refused_naming_it(api_client, alice, paper):
    a, b, c = paper("A"), paper("B"), paper("C")
    pair_create(owner=alice, master=a, slave=b)
    pair_create(owner=alice, master=b, slave=c)
    api_client.force_login(alice)

    refused = api_client.post("/api/copy/pairs/", {"master": c.pk, "slave": a.pk}, format="json")
    itself = api_client.post("/api/copy/pairs/", {"master": a.pk, "slave": a.pk}, format="json")

    assert refused.status_code == 400
    assert "C → A → B → C" in json.dumps(refused.json(), ensure_ascii=False)
    assert itself.status_code == 400 and "two different accounts" in json.dumps(itself.json())
    assert CopyPair.objects.count() == 2


@pytest.mark.django_db
def test_an_edit_that_would_close_a_cycle_is_refused(api_client, alice, paper):
    a, b, c = paper("A"), paper("B"), paper("C")
    pair_create(owner=alice, master=a, slave=b)
    made, _ = pair_create(owner=alice, master=c, slave=b)
    api_client.force_login(alice)

    refused = api_client.patch(f"/api/copy/pairs/{made.pk}/", {"master": b.pk, "slave": a.pk}, format="json")

    assert refused.status_code == 400 and "B → A → B" in json.dumps(refused.json(), ensure_ascii=False)
    made.refresh_from_db()
    assert (made.master_id, made.slave_id) == (c.pk, b.pk)


@pytest.mark.django_db
def test_another_traders_accounts_and_pairs_read_as_missing(api_client, alice, bob, paper):
    alices_pair, _ = pair_create(owner=alice, master=paper("M"), slave=paper("S"))
    bobs = paper("BOB", owner=bob)
    api_client.force_login(bob)

    created = api_client.post("/api/copy/pairs/", {"master": bobs.pk, "slave": alices_pair.slave_id}, format="json")
    answers = [
        api_client.get(f"/api/copy/pairs/{alices_pair.pk}/").status_code,
        api_client.post(f"/api/copy/pairs/{alices_pair.pk}/key").status_code,
        api_client.post(f"/api/copy/pairs/{alices_pair.pk}/toggle").status_code,
        api_client.delete(f"/api/copy/pairs/{alices_pair.pk}").status_code,
    ]

    assert created.status_code == 400 and "slave" in created.json()["errors"]
    assert answers == [404, 404, 404, 404]
    alices_pair.refresh_from_db()
    assert alices_pair.active and CopyPair.objects.count() == 1


@pytest.mark.django_db
def test_history_lists_each_slaves_result_filters_and_clears(api_client, alice, paper, trade):
    master, good, bad = paper("M"), paper("Good"), paper("Bad", "SimBroker-Demo")
    _, key = pair_create(owner=alice, master=master, slave=good)
    pair_create(owner=alice, master=master, slave=bad)
    trade(key, master, event="deal_add", order_id="1", symbol="ETHUSD", type="BUY", volume=0.1)
    trade(key, master, event="deal_add", order_id="2", symbol="BTCUSD", type="BUY", volume=0.01)
    drain_all()
    api_client.force_login(alice)

    everything = api_client.get("/api/copy/history").json()
    errors = api_client.get("/api/copy/history/?status=error").json()
    bad_filter = api_client.get("/api/copy/history?status=maybe")
    cleared = api_client.delete("/api/copy/history")

    assert everything["count"] == 2
    first = everything["results"][1]
    assert first["event"] == "deal_add" and first["order_id"] == "1"
    results = {e["slave_login"]: e for e in first["executions"]}
    assert results[good.login]["status"] == "success" and results[good.login]["volume_after"] == "0.1000"
    assert results[bad.login]["status"] == "error" and "ETHUSD" in results[bad.login]["error"]
    assert [e["order_id"] for e in errors["results"]] == ["1"]
    assert bad_filter.status_code == 400
    assert cleared.json() == {"cleared": 2}
    assert api_client.get("/api/copy/history").json()["count"] == 0
    assert CopyEvent.objects.count() == 2  # hidden, kept for the audit


@pytest.mark.django_db
def test_volume_rules_are_checked_at_creation(api_client, alice, paper):
    api_client.force_login(alice)
    master, slave = paper("M"), paper("S")

    zero = api_client.post(
        "/api/copy/pairs/", {"master": master.pk, "slave": slave.pk, "multiplier": "0"}, format="json"
    )
    bad_map = api_client.post(
        "/api/copy/pairs/", {"master": master.pk, "slave": slave.pk, "symbol_map": ["XAUUSD"]}, format="json"
    )

    assert zero.status_code == 400 and "multiplier" in zero.json()["errors"]
    assert bad_map.status_code == 400 and "symbol_map" in bad_map.json()["errors"]
    assert not CopyPair.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_four_concurrent_deliveries_of_one_event_copy_it_once(copied, trade):
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (runs in .ci/run)")
    _, key, master, slave = copied
    replies = []
    barrier = threading.Barrier(4)

    def send():
        barrier.wait()
        replies.append(trade(key, master, **DEAL))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain_all()

    assert [r.status_code for r in replies] == [200] * 4
    assert {r.json()["event"] for r in replies} == {CopyEvent.objects.get().pk}
    assert Order.objects.count() == 1 and [p.volume for p in positions(slave)] == [0.02]
