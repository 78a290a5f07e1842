"""Orders that act on one position: partial closes (lots or a share), SL/TP changes, closes
of a position whose opening order is still queued, and linked comments that reconcile."""

from decimal import Decimal

import pytest

from terminals.drivers.base import OrderRequest, OrderType, TradeAction
from terminals.gateway import simulated_driver
from terminals.models import Order, TradingAccount
from terminals.orders import MAGIC
from terminals.orders.drain import account_drain
from terminals.services import account_connect
from terminals.signals import orders_finished
from tests.factories import OrderFactory


@pytest.fixture
def account(alice) -> TradingAccount:
    return account_connect(owner=alice, login="8810001", password="pw", server="SimStandard-Demo", kind="simulated")


def order(account, **fields) -> Order:
    defaults = {"owner": account.owner, "account": account, "signal": None, "requested_symbol": "BTCUSD"}
    return OrderFactory(**{**defaults, "comment": "", **fields})


def positions(account):
    return simulated_driver(account).positions()


def opened(account, volume: str = "0.10") -> Order:
    opener = order(account, side="buy", volume=Decimal(volume))
    account_drain(account.pk)
    opener.refresh_from_db()
    assert opener.status == "filled"
    return opener


@pytest.mark.django_db
def test_a_close_by_lots_leaves_the_rest_open(account):
    opener = opened(account)
    close = order(account, action="close_ticket", side="", position_ticket=opener.ticket, volume=Decimal("0.03"))

    account_drain(account.pk)

    close.refresh_from_db()
    assert close.status == "filled" and close.filled_volume == Decimal("0.03")
    assert [p.volume for p in positions(account)] == [0.07]


@pytest.mark.django_db
def test_a_close_by_share_rounds_down_to_the_step(account):
    opener = opened(account, "0.07")
    half = order(
        account, action="close_ticket", side="", volume=None, position_of=opener, close_fraction=Decimal("0.5")
    )

    account_drain(account.pk)

    half.refresh_from_db()
    # Half of 0.07 is 0.035: 0.03 at BTCUSD's step, never more than asked.
    assert half.status == "filled" and [p.volume for p in positions(account)] == [0.04]


@pytest.mark.django_db
def test_a_share_below_the_minimum_is_refused_with_the_reason(account):
    opener = opened(account, "0.01")
    tiny = order(
        account, action="close_ticket", side="", volume=None, position_of=opener, close_fraction=Decimal("0.4")
    )

    account_drain(account.pk)

    tiny.refresh_from_db()
    assert tiny.status == "rejected" and "below BTCUSD's minimum of 0.01" in tiny.status_reason
    assert [p.volume for p in positions(account)] == [0.01]


@pytest.mark.django_db
def test_a_close_queued_behind_its_open_finds_the_position_it_opened(account):
    opener = order(account, side="sell", volume=Decimal("0.02"))
    other = order(account, side="sell", volume=Decimal("0.05"))
    close = order(account, action="close_ticket", side="", volume=None, position_of=opener)

    account_drain(account.pk)

    close.refresh_from_db()
    other.refresh_from_db()
    assert close.status == "filled"
    assert [p.ticket for p in positions(account)] == [other.ticket]


@pytest.mark.django_db
def test_a_close_of_an_open_that_failed_is_refused(account):
    failed = order(account, side="buy", volume=Decimal("0.001"))
    close = order(account, action="close_ticket", side="", volume=None, position_of=failed)

    account_drain(account.pk)

    close.refresh_from_db()
    assert close.status == "rejected" and "never opened" in close.status_reason


@pytest.mark.django_db
def test_sltp_is_changed_on_the_position_and_an_unchanged_one_is_not_sent(account):
    opener = opened(account)
    price = positions(account)[0].price_open
    modify = order(
        account, action="modify_sltp", side="", volume=None, position_of=opener,
        sl=Decimal(str(round(price - 1000, 2))) + Decimal("0.004"), tp=Decimal(str(round(price + 1000, 2))),
    )  # fmt: skip
    account_drain(account.pk)
    same = order(account, action="modify_sltp", side="", volume=None, position_ticket=opener.ticket,
                 sl=modify.sl, tp=modify.tp)  # fmt: skip
    account_drain(account.pk)

    modify.refresh_from_db()
    same.refresh_from_db()
    [position] = positions(account)
    assert modify.status == "filled" and modify.retcode == 10009
    assert (position.sl, position.tp) == (round(price - 1000, 2), round(price + 1000, 2))
    assert same.status == "cancelled" and same.status_reason == "Nothing to change."


@pytest.mark.django_db
def test_sltp_on_the_wrong_side_is_refused_and_a_missing_position_too(account):
    opener = opened(account)
    price = positions(account)[0].price_open
    wrong = order(account, action="modify_sltp", side="", volume=None, position_of=opener,
                  sl=Decimal(str(round(price + 5000, 2))))  # fmt: skip
    missing = order(account, action="modify_sltp", side="", volume=None, position_ticket=999999, sl=Decimal("1"))

    account_drain(account.pk)

    wrong.refresh_from_db()
    missing.refresh_from_db()
    assert wrong.status == "rejected" and "Stop loss" in wrong.status_reason
    assert missing.status == "rejected" and "No open position 999999" in missing.status_reason
    assert positions(account)[0].sl == 0.0


@pytest.mark.django_db
def test_an_interrupted_sltp_change_that_happened_is_not_sent_again(account):
    opener = opened(account)
    price = positions(account)[0].price_open
    modify = order(account, action="modify_sltp", side="", volume=None, position_ticket=opener.ticket,
                   tp=Decimal(str(round(price + 700, 2))))  # fmt: skip
    driver = simulated_driver(account)
    driver.order_send(
        OrderRequest(action=TradeAction.SLTP, symbol="BTCUSD", tp=round(price + 700, 2), position=opener.ticket)
    )
    Order.objects.filter(pk=modify.pk).update(status="sending")

    account_drain(account.pk)

    modify.refresh_from_db()
    assert modify.status == "filled" and "after an interruption" in modify.status_reason


@pytest.mark.django_db
def test_a_linked_order_carries_link_and_client_id_and_is_reconciled_by_them(account):
    linked = order(account, side="buy", volume=Decimal("0.02"), link="COPY_" + "7" * 35)
    driver = simulated_driver(account)
    # The worker died after the terminal placed the order but before recording it. At market
    # (no price): a price read a moment before may have moved past the deviation (a requote).
    placed = driver.order_send(
        OrderRequest(action=TradeAction.DEAL, symbol="BTCUSD", volume=0.02, type=OrderType.BUY,
                     magic=MAGIC, comment=linked.terminal_comment)
    )  # fmt: skip
    assert placed.retcode == 10009
    Order.objects.filter(pk=linked.pk).update(status="sending")

    account_drain(account.pk)

    linked.refresh_from_db()
    [position] = positions(account)
    assert linked.status == "filled" and "after an interruption" in linked.status_reason
    assert len(position.comment) == 31 and position.comment.endswith(" " + linked.client_id)
    assert position.comment.startswith("COPY_777")


@pytest.mark.django_db
def test_every_final_state_is_announced_once(account):
    seen = []

    def receiver(sender, *, orders, **kwargs):
        seen.extend((order.pk, order.status) for order in orders)

    orders_finished.connect(receiver)
    try:
        filled = order(account, side="buy", volume=Decimal("0.01"))
        refused = order(account, side="buy", volume=Decimal("0.001"))
        account_drain(account.pk)
        account_drain(account.pk)
    finally:
        orders_finished.disconnect(receiver)

    assert seen == [(filled.pk, "filled"), (refused.pk, "rejected")]
