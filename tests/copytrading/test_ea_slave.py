"""Copies to an EA bridge slave go out as slave_command files carrying the master's order id
(docs/ea-protocol.md), through the order pipeline every copy takes; the simulated EA runs
in its own thread as the real one polls on its timer."""

import pytest
from django.conf import settings

from copytrading.services import pair_create
from mt5saas.crypto import encrypt
from terminals.models import Order, TerminalHost
from tests.copytrading.conftest import drain_all
from tests.factories import TradingAccountFactory
from tests.fakes.ea_simulator import ea_bridge_driver
from tests.terminals.clocks import Clock

SLAVE_LOGIN, SLAVE_PASSWORD = 8800001, "ea-slave-pw"

# The EA polls in its own thread with its own database connection while the test writes: the
# in-memory SQLite test database (shared cache) answers "table is locked" at once instead of
# waiting, so these run on PostgreSQL (.ci/run's second stage), where the two connections wait
# for each other as they do in production.
pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="two connections writing at once need PostgreSQL (the SQLite test database is in memory)",
)


@pytest.fixture
def ea_slave(transactional_db, tmp_path, monkeypatch, alice):
    """Alice's EA bridge account on a Windows host, its EA polling in its own thread."""
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-ea")
    root = tmp_path / "instances"
    host = TerminalHost.objects.create(
        name="win-ea", queue_name="win-ea", kind="windows", online=True, instance_root=str(root)
    )
    _, ea = ea_bridge_driver(root, login=SLAVE_LOGIN, password=SLAVE_PASSWORD, clock=Clock(), threaded=True)
    account = TradingAccountFactory(
        owner=alice, host=host, kind="ea_bridge", login=str(SLAVE_LOGIN), password=encrypt(SLAVE_PASSWORD)
    )
    yield account, ea
    ea.stop()


def test_copy_to_an_ea_slave_is_a_slave_command_and_its_close_finds_the_linked_position(ea_slave, paper, trade, alice):
    slave, ea = ea_slave
    master = paper("master")
    _, key = pair_create(owner=alice, master=master, slave=slave, volume_mode="multiply")

    opened = trade(key, master, event="deal_add", order_id="order_777", symbol="XAUUSD", type="BUY", volume=0.05)
    drain_all()
    [position] = ea.terminal.positions()
    closed = trade(key, master, event="deal_close", order_id="order_777", deal=9001)
    drain_all()

    assert opened.status_code == 200 and closed.status_code == 200
    assert [name.split("_command_")[0] for name in ea.command_files] == ["slave", "slave"]
    open_command, close_command = ea.commands
    assert (open_command["order_id"], close_command["order_id"]) == ("order_777", "order_777")
    assert open_command["action"] == "BUY" and open_command["original_symbol"] == "XAUUSD"
    assert close_command["action"] == "CLOSE" and close_command["ticket"] == position.ticket
    copy_open, copy_close = Order.objects.filter(account=slave).order_by("pk")
    # The link first, the client id last: reconciliation finds the order by the whole comment.
    assert position.comment == copy_open.terminal_comment
    assert position.comment.startswith("COPY_order_777 ") and position.symbol == "GOLD"
    assert (copy_open.status, copy_close.status) == ("filled", "filled")
    assert copy_open.ticket == position.ticket
    assert ea.terminal.positions() == []


def test_an_order_that_is_not_a_copy_stays_a_webhook_command(ea_slave, alice):
    slave, ea = ea_slave
    order = Order.objects.create(
        owner=alice, account=slave, action="open", side="buy", requested_symbol="XAUUSD", volume="0.02"
    )

    drain_all()

    order.refresh_from_db()
    assert order.status == "filled"
    assert [name.split("_command_")[0] for name in ea.command_files] == ["webhook"]
    assert "order_id" not in ea.commands[0] and ea.commands[0]["comment"] == order.client_id
