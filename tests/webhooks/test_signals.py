"""Alerts become orders: fan-out, subsets, mapping, idempotency, and the orders filling."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from accounts.services import webhook_token_reveal
from live.broadcast import user_group
from terminals.gateway import simulated_driver
from terminals.models import Order
from terminals.orders.drain import account_drain
from terminals.services import account_connect, account_delete, account_set_status
from tests.factories import TradingAccountFactory
from webhooks.models import Signal


@pytest.fixture
def paper(alice):
    """Two simulated accounts on the two simulated brokers (GOLD and XAUUSD)."""
    return [
        account_connect(owner=alice, login="8900001", password="pw", server="SimBroker-Demo", kind="simulated"),
        account_connect(owner=alice, login="8900002", password="pw", server="SimStandard-Demo", kind="simulated"),
    ]


@pytest.fixture
def hook(alice):
    token = webhook_token_reveal(user=alice)

    def send(body, client=None, content_type="text/plain"):
        text = body if isinstance(body, str) else json.dumps(body)
        return (client or Client()).post(f"/webhook/{token}", text, content_type=content_type)

    return send


@pytest.mark.django_db
def test_an_alert_becomes_one_queued_order_per_account_and_they_fill(hook, paper, django_capture_on_commit_callbacks):
    broker = get_broker()
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True):
        response = hook('{"action": "Buy", "symbol": "BTCUSD", "volume": "0.02", "comment": "tv-breakout"}')

    body = response.json()
    assert response.status_code == 202
    assert [o["account"] for o in body["orders"]] == [a.pk for a in paper]
    assert {o["status"] for o in body["orders"]} == {"queued"}
    # Drains that cover each account once wait in the broker's queue (the ORM broker's commits
    # with the orders): a task per account, or a fan-out's accounts a share per task.
    tasks = []
    while broker.queue_size():
        tasks += [SignedPackage.loads(payload) for _, payload in broker.dequeue()]
    drained = [[t["args"][0]] if t["func"] == "terminals.tasks.account_drain" else t["args"][0] for t in tasks]
    assert {t["func"] for t in tasks} <= {"terminals.tasks.account_drain", "terminals.tasks.accounts_drain"}
    assert sorted(pk for pks in drained for pk in pks) == sorted(a.pk for a in paper)
    assert Order.objects.filter(signal_id=body["signal"], queued_at__isnull=True).count() == 0
    for account in paper:
        account_drain(account.pk)
    orders = Order.objects.filter(signal_id=body["signal"])
    assert {o.status for o in orders} == {"filled"}
    for account in paper:
        assert [(p.symbol, p.volume) for p in simulated_driver(account).positions()] == [("BTCUSD", 0.02)]


@pytest.mark.django_db
def test_symbols_are_mapped_per_account_at_intake(hook, paper):
    body = hook({"action": "sell", "symbol": "OANDA:XAUUSD", "volume": 0.01}).json()

    symbols = {o.account.server: o.symbol for o in Order.objects.filter(signal_id=body["signal"])}
    assert symbols == {"SimBroker-Demo": "GOLD", "SimStandard-Demo": "XAUUSD"}


@pytest.mark.django_db
def test_custom_and_learned_mappings_are_read_with_the_accounts_in_one_query(hook, paper, alice):
    from django.test.utils import CaptureQueriesContext

    from terminals.models import SymbolMapping
    from terminals.symbols import symbol_mapping_set

    more = [
        account_connect(owner=alice, login=f"89000{n}", password="pw", server="SimStandard-Demo", kind="simulated")
        for n in range(10, 18)
    ]
    # The trader chose GOLD's other name on one account; the learned GOLD on the other stays.
    symbol_mapping_set(account=more[0], requested="GOLD", broker_symbol="XAUUSD")
    first = hook({"action": "sell", "symbol": "gold", "volume": 0.01}).json()  # the alias is learned

    with CaptureQueriesContext(connection) as queries:
        body = hook({"action": "sell", "symbol": "gold", "volume": 0.01}).json()

    for signal in (first, body):
        symbols = {o.account_id: o.symbol for o in Order.objects.filter(signal_id=signal["signal"])}
        assert symbols[more[0].pk] == "XAUUSD" and symbols[paper[0].pk] == "GOLD"
        assert {symbols[a.pk] for a in [paper[1], *more[1:]]} == {"XAUUSD"} and len(symbols) == 10
    learned = SymbolMapping.objects.filter(source="learned", requested="GOLD")
    assert learned.count() == 8 and {m.broker_symbol for m in learned} == {"XAUUSD"}
    assert SymbolMapping.objects.get(account=more[0]).source == "custom"
    mapping_reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "terminals_symbolmapping"')]
    assert mapping_reads == []  # none per account: each account's came with the accounts query


@pytest.mark.django_db
def test_a_subset_of_accounts_by_login_or_id(hook, paper):
    by_login = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": ["8900002"]}).json()
    by_id = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": [paper[0].pk]}).json()

    assert [o["account"] for o in by_login["orders"]] == [paper[1].pk]
    assert [o["account"] for o in by_id["orders"]] == [paper[0].pk]


@pytest.mark.django_db
def test_another_traders_account_in_the_subset_places_nothing_for_anyone(hook, paper, bob):
    theirs = TradingAccountFactory(owner=bob, login="8900099")

    response = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": ["8900001", theirs.login]})

    assert response.status_code == 400
    assert response.json()["errors"] == {"accounts": ["Not one of your active accounts: 8900099."]}
    assert not Order.objects.exists()
    assert Signal.objects.get().status == "refused"


@pytest.mark.django_db
def test_stopped_deleted_and_other_traders_accounts_are_never_targets(hook, paper, alice, bob):
    stopped = account_connect(owner=alice, login="8900003", password="pw", server="SimBroker-Demo", kind="simulated")
    account_set_status(account=stopped, status="stopped")
    gone = account_connect(owner=alice, login="8900004", password="pw", server="SimBroker-Demo", kind="simulated")
    account_delete(account=gone, confirm=True)
    theirs = TradingAccountFactory(owner=bob, login="8900005")

    everyone = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01}).json()
    assert [o["account"] for o in everyone["orders"]] == [paper[0].pk, paper[1].pk]
    for reference in (stopped.login, gone.login, str(stopped.pk), str(gone.pk), theirs.login, str(theirs.pk)):
        response = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": [reference]})
        assert response.status_code == 400, reference
        assert response.json()["errors"] == {"accounts": [f"Not one of your active accounts: {reference}."]}
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_an_unmappable_symbol_is_400_naming_the_account(hook, paper):
    response = hook({"action": "buy", "symbol": "DOGEJPY", "volume": 0.01})

    assert response.status_code == 400
    assert any("8900001" in message and "DOGEJPY" in message for message in response.json()["errors"]["symbol"])
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_volume_over_an_accounts_max_lot_is_400(hook, paper):
    paper[1].max_lot = 1
    paper[1].save()

    response = hook({"action": "buy", "symbol": "BTCUSD", "volume": 2})

    assert response.status_code == 400 and "8900002" in response.json()["errors"]["volume"][0]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_several_bad_fields_are_reported_at_once_and_nothing_is_placed(hook, paper):
    response = hook({"action": "jump", "volume": "-1", "order_type": "limit"})

    assert response.status_code == 400
    assert {"action", "volume"} <= set(response.json()["errors"])
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_repeated_id_returns_the_first_reply_and_places_nothing(hook, paper):
    alert = {"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "id": "alert-42-bar-1717000000", "bar": "1h"}

    first = hook(alert)
    for account in paper:
        account_drain(account.pk)  # the orders fill meanwhile: the repeat still gets the first reply
    again = hook({**alert, "volume": 5})

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and first.json()["ignored_fields"] == ["bar"]
    assert {o["status"] for o in again.json()["orders"]} == {"queued"}
    assert Signal.objects.count() == 1 and Order.objects.count() == len(paper)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_id_create_one_signal(hook, paper):
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (runs in .ci/run)")
    alert = {"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "id": "race-1"}
    replies = []
    barrier = threading.Barrier(4)

    def send():
        barrier.wait()
        replies.append(hook(alert))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Signal.objects.count() == 1 and Order.objects.count() == len(paper)
    assert {r.status_code for r in replies} <= {202, 409}
    assert sum(r.status_code == 202 for r in replies) >= 1


@pytest.mark.django_db
def test_closes_and_close_all(hook, paper):
    hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01, "accounts": ["8900001"]})
    hook({"action": "sell", "symbol": "BTCUSD", "volume": 0.01, "accounts": ["8900001"]})
    account_drain(paper[0].pk)

    close_buys = hook({"action": "close", "symbol": "BTCUSD", "side": "long", "accounts": ["8900001"]})
    account_drain(paper[0].pk)
    remaining = simulated_driver(paper[0]).positions()
    close_all = hook({"action": "CLOSE_ALL", "accounts": ["8900001"]})
    account_drain(paper[0].pk)

    assert close_buys.status_code == 202 and [p.type for p in remaining] == [1]
    assert close_all.status_code == 202 and simulated_driver(paper[0]).positions() == []


@pytest.mark.django_db(transaction=True)
def test_the_signal_and_its_orders_reach_the_owners_live_stream(hook, paper, alice):
    from tests.live.test_broadcast import listen, received

    channel = listen(user_group(alice.pk))
    body = hook({"action": "buy", "symbol": "BTCUSD", "volume": 0.01}).json()

    events = received(channel, 3)
    assert events[0] == {"type": "signal", "id": body["signal"], "action": "open", "symbol": "BTCUSD"}
    orders = [("order", order["id"], "queued") for order in body["orders"]]
    assert [(event["type"], event["id"], event["status"]) for event in events[1:]] == orders
