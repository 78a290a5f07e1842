"""Which of our orders caused a deal, from what the order carries: its client id in the deal's
comment (`mt5s<hex>`, also at the end of a copy's "COPY_<id> mt5s<hex>"), or its terminal ticket.
Never a guess by symbol and time: a deal matching neither is "outside the service"."""

import re
from collections.abc import Iterable
from decimal import Decimal

from copytrading.selectors import pairs_of_orders
from terminals.models import Order

from .models import Deal, Source

CHUNK = 5000  # order tickets per query
CLIENT_ID = re.compile(r"(?:^|\s)mt5s([0-9a-f]{1,15})(?:\s|$)")


def client_order_id(comment: str) -> int | None:
    """The order id of our client id in a terminal comment, or None."""
    found = CLIENT_ID.search(comment or "")
    return int(found.group(1), 16) if found else None


def deals_attribute(deals: Iterable[Deal]) -> dict[int, Order]:
    """Set each deal's order and source (a query or two for all of them, any accounts); returns the
    orders found, by id. An order of another account than the deal's is never taken."""
    deals = list(deals)
    ids = {oid for d in deals if (oid := client_order_id(d.comment)) is not None}
    tickets = {d.terminal_order for d in deals if d.terminal_order}
    accounts = {d.account_id for d in deals}
    if not ids and not tickets:
        return {}
    # Bounded lists: a first read brings a ticket per deal, past any statement's parameters.
    orders, ids, tickets = [], sorted(ids), sorted(tickets)
    for start in range(0, len(ids), CHUNK):
        orders += Order.objects.filter(pk__in=ids[start : start + CHUNK])
    for start in range(0, len(tickets), CHUNK):
        orders += Order.objects.filter(account_id__in=accounts, ticket__in=tickets[start : start + CHUNK])
    by_id = {o.pk: o for o in orders}
    by_ticket = {(o.account_id, o.ticket): o for o in orders if o.ticket}
    for deal in deals:
        order = by_id.get(client_order_id(deal.comment) or 0)
        if order is None or order.account_id != deal.account_id:
            order = by_ticket.get((deal.account_id, deal.terminal_order))
        if order is not None:
            deal.order, deal.source = order, Source(order.source)
    return by_id


def copy_pairs(orders: Iterable[Order]) -> dict[int, int]:
    """{order id: copy pair id} of the copies among these orders."""
    copies = [o.pk for o in orders if o.source == Order.Source.COPY]
    return pairs_of_orders(order_ids=copies) if copies else {}


def slippage_points(order: Order | None, side: str, fill: Decimal, point: Decimal | None) -> Decimal | None:
    """Fill against the price the alert asked for, in points, positive when worse for the
    trader (a buy filled higher, a sell lower); None when nothing was asked or the point is unknown."""
    if order is None or order.price is None or not point:
        return None
    moved = (fill - order.price) if side == "buy" else (order.price - fill)
    return (moved / point).quantize(Decimal("0.1"))
