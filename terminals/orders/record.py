"""Final states: written with their live events and announced (terminals.signals) in one
transaction, so what the receivers write commits with the states, in one write."""

import logging
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.dispatch import Signal
from django.utils import timezone

from mt5saas.db import rows_update
from mt5saas.events import publish_each

from ..drivers.base import OrderResult
from ..models import Order
from ..selectors import order_event
from ..signals import orders_finished

log = logging.getLogger(__name__)

Status = Order.Status
Outcome = tuple[str, str, OrderResult | None]  # final status, reason, the terminal's last answer

FINISH_FIELDS = [
    "status", "status_reason", "done_at", "retcode", "ticket", "fill_price", "filled_volume", "symbol", "digits",
    "position_ticket",  # an open on a netting account: the position it filled into
]  # fmt: skip


def publish_orders(orders: list[Order]) -> None:
    publish_each((order.owner_id, "order", order_event(order)) for order in orders)


def finish(order: Order, status: str, *, reason: str = "", result: OrderResult | None = None) -> None:
    finish_many([(order, status, reason, result)])


def finish_many(finished: list[tuple[Order, str, str, OrderResult | None]]) -> None:
    """Record final states: the states, their events and the receivers' bookkeeping in one
    write. An order no longer queued or sending (another drain recorded it) is left alone."""
    now = timezone.now()
    for order, status, reason, result in finished:
        order.status, order.status_reason, order.done_at = status, reason[:300], now
        if result is not None:
            order.retcode = result.retcode
            order.ticket = result.order or result.deal or order.ticket
            order.fill_price = Decimal(str(result.price)) if result.price else order.fill_price
            order.filled_volume = Decimal(str(result.volume)).quantize(Decimal("0.0001")) if result.volume else None
    orders = [order for order, *_ in finished]
    if orders and not _write(orders) and len(orders) > 1:
        # Some were recorded meanwhile (another drain): the others one by one.
        for order in orders:
            _write([order])


def _write(orders: list[Order]) -> bool:
    """The final states, their events and the receivers' bookkeeping: one write, if every one
    of the orders is still queued or sending (else none)."""
    with transaction.atomic():
        written = rows_update(orders, FINISH_FIELDS, where="status IN (%s, %s)", params=[Status.QUEUED, Status.SENDING])
        if written != len(orders):
            transaction.set_rollback(True)
            return False
        publish_orders(orders)
        announce(orders_finished, orders)
    return True


def announce(signal: Signal, orders: list[Order]) -> None:
    """`signal` with `orders`, inside the transaction that records their states. A receiver's
    failure is logged and undoes only the receivers' writes (a savepoint), never the states."""
    ids = ", ".join(str(order.pk) for order in orders)
    try:
        with transaction.atomic():
            for receiver, outcome in signal.send_robust(sender=Order, orders=orders):
                if isinstance(outcome, Exception):
                    log.error("orders %s: %s failed", ids, receiver, exc_info=outcome)
    except DatabaseError:
        log.exception("orders %s: the receivers of their final states left the database in error", ids)
