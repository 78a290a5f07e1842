"""Placed pending orders, followed on their terminal until they fill, are cancelled or expire.

The host agent calls pending_orders_settle() for each account with `placed` orders on every
round: MT5 keeps a pending order on the broker's side, so only the terminal knows its end.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from mt5saas.db import rows_update
from mt5saas.display import price_text

from ..drivers.base import Driver
from ..models import Order, TradingAccount
from ..signals import placed_orders_ended
from .record import announce, publish_orders

Status = Order.Status
SETTLE_FIELDS = ["status", "status_reason", "fill_price", "filled_volume"]
# Deals are looked up by time, and brokers stamp them in their server's time zone (often
# UTC+2 or +3): a day either side of the order's own times finds its deals wherever that is.
CLOCK_SLACK = timedelta(days=1)


def accounts_with_placed_orders(*, account_ids: list[int]) -> set[int]:
    return set(
        Order.objects.filter(account_id__in=account_ids, status=Status.PLACED)
        .values_list("account_id", flat=True)
        .distinct()
    )


def pending_orders_settle(*, account: TradingAccount, driver: Driver) -> list[Order]:
    """Move the account's placed orders that left the terminal's pending orders to `filled`
    (their deals found: volume-weighted price, volume) or `cancelled`; returns those changed."""
    placed = list(Order.objects.filter(account=account, status=Status.PLACED, ticket__isnull=False).order_by("pk"))
    if not placed:
        return []
    # Pending orders first, deals after: an order that fills between the two reads is then
    # still pending in the first (looked at again next round), never missing from both.
    waiting = {pending.ticket for pending in driver.orders()}
    gone = [order for order in placed if order.ticket not in waiting]
    if not gone:
        return []
    since = min(order.sent_at or order.created_at for order in gone) - CLOCK_SLACK
    deals: dict[int, list] = {}
    for deal in driver.deals(since=since, until=timezone.now() + CLOCK_SLACK):
        deals.setdefault(deal.order, []).append(deal)
    for order in gone:
        if fills := deals.get(order.ticket):
            volume = sum(Decimal(str(d.volume)) for d in fills)
            price = sum(Decimal(str(d.price)) * Decimal(str(d.volume)) for d in fills) / volume
            order.status, order.filled_volume = Status.FILLED, volume.quantize(Decimal("0.0001"))
            order.fill_price = price.quantize(Decimal("0.00000001"))
            order.status_reason = f"The pending order filled at {price_text(order.fill_price, order.digits)}."
        else:
            order.status = Status.CANCELLED
            order.status_reason = "The pending order left the terminal unfilled: cancelled or expired."
    return _record_ends(gone)


def _record_ends(orders: list[Order]) -> list[Order]:
    with transaction.atomic():
        # Only rows still placed: two rounds that raced record each end once.
        changed = [o for o in orders if rows_update([o], SETTLE_FIELDS, where="status = %s", params=[Status.PLACED])]
        publish_orders(changed)
        if changed:
            announce(placed_orders_ended, changed)
    return changed
