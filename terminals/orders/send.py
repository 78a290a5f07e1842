"""Sending a claimed order and establishing its outcome.

Requotes and moved prices are retried with a fresh price a bounded number of times; an
ambiguous answer (placed, timeout, no connection, IPC errors) is checked against the terminal,
by the client id in the order's comment, before anything is sent again.
"""

from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from mt5saas.db import rows_update

from .. import retcodes
from ..drivers import order_send_for
from ..drivers.base import DealType, Driver, OrderRequest, OrderResult, OrderType, TerminalError, TradeAction
from ..models import Order
from .guards import Refused, RoundLookups
from .record import Outcome
from .requests import order_requests, position_ticket, sltp_on_grid

Status = Order.Status
LOTS = Decimal("0.0001")  # Order.sent_volume's places
MAX_SENDS = 3  # per order: the first send plus bounded retries after requotes or a checked ambiguity
# Retcodes that mean the request itself was refused (the trader's or the market's doing).
REJECTED_CODES = frozenset(
    {10006, 10013, 10014, 10015, 10016, 10017, 10018, 10019, 10022, 10026, 10027, 10030, 10032, 10033}
    | {10034, 10035, 10036, 10038, 10039, 10040, 10042, 10043, 10044, 10045, 10046}
)


def carry_out(order: Order, driver: Driver) -> Outcome | None:
    """Prepare and send a claimed order; its outcome, or None when it could not be established."""
    return carry_out_many([(order, driver)])[0]


def carry_out_many(work: list[tuple[Order, Driver]], lookups: RoundLookups | None = None) -> list[Outcome | None]:
    """carry_out for orders of different accounts, their first requests sent together
    (_first_sends); what follows (retries, a close's further positions) goes order by order."""
    prepared = [_requests_or_outcome(order, driver, lookups) for order, driver in work]
    _sent_volumes_record([order for order, _ in work], prepared)
    if len(work) > 1:
        # The quotes moved while the whole round was prepared: a market request goes at the
        # price of now, as it would had it been sent right after its own preparation.
        for (_, driver), requests in zip(work, prepared, strict=True):
            if isinstance(requests, list):
                requests[0] = _at_current_price(driver, requests[0])
    sending = [
        (driver, order, requests[0])
        for (order, driver), requests in zip(work, prepared, strict=True)
        if isinstance(requests, list)
    ]
    firsts = iter(_first_sends(sending))
    return [
        _send_all(order, driver, requests, next(firsts)) if isinstance(requests, list) else requests
        for (order, driver), requests in zip(work, prepared, strict=True)
    ]


def _requests_or_outcome(order: Order, driver: Driver, lookups: RoundLookups | None) -> list[OrderRequest] | Outcome:
    """What to send for the order, or its outcome when nothing is to be sent."""
    try:
        requests = order_requests(order, driver, lookups)
    except Refused as refusal:
        return Status.REJECTED, str(refusal), None
    except TerminalError as error:
        return Status.FAILED, f"The terminal could not answer: {error.message}", None
    if not requests:
        nothing = "Nothing to change." if order.action == Order.Action.MODIFY_SLTP else "Nothing to close."
        return Status.CANCELLED, nothing, None
    return requests


def _sent_volumes_record(orders: list[Order], prepared: list[list[OrderRequest] | Outcome]) -> None:
    """Each order's lots about to be sent, in one statement for all, committed before any is
    sent: the order shows what it sent even when the terminal's answer is lost, and a resend
    after an interruption sends the same size (requests._open_volume)."""
    changed = []
    for order, requests in zip(orders, prepared, strict=True):
        if not isinstance(requests, list):
            continue
        lots = sum((Decimal(str(request.volume)) for request in requests), Decimal("0")).quantize(LOTS)
        if lots > 0 and lots != order.sent_volume:
            order.sent_volume = lots
            changed.append(order)
    rows_update(changed, ["sent_volume"])


def _first_sends(sends: list[tuple[Driver, Order, OrderRequest]]) -> list[OrderResult]:
    """One request of each order (of different accounts): the terminals of one driver class in
    one call (Driver.order_send_many: the paper broker's few statements), a lone one on its own."""
    by_class: dict[type, list[int]] = {}
    for index, (driver, _, _) in enumerate(sends):
        by_class.setdefault(type(driver), []).append(index)
    together: dict[int, OrderResult] = {}
    for driver_class, indexes in by_class.items():
        if len(indexes) > 1:
            answers = driver_class.order_send_many([(sends[i][0], sends[i][2]) for i in indexes])
            together.update(zip(indexes, answers, strict=True))
    return [together[i] if i in together else _send_once(*send) for i, send in enumerate(sends)]


def _at_current_price(driver: Driver, request: OrderRequest) -> OrderRequest:
    if request.action != TradeAction.DEAL or not request.price:
        return request  # a close or a pending order: no market price to keep
    return _repriced(driver, request) or request


def _send_all(order: Order, driver: Driver, requests: list[OrderRequest], first: OrderResult) -> Outcome | None:
    """The outcome of an order whose first request got `first`: its retries and further requests sent."""
    results = []
    for index, request in enumerate(requests):
        result = _send(driver, order, request, first=first if index == 0 else None)
        if result is None:
            return None
        results.append(result)
        if result.retcode not in (retcodes.DONE, retcodes.DONE_PARTIAL):
            break
    last = results[-1]
    if last.retcode == retcodes.PLACED or (last.retcode == retcodes.DONE and requests[0].action == TradeAction.PENDING):
        # A pending order waits at its price: terminals.orders.placed follows it to its fill or its end.
        return Status.PLACED, "", replace(last, price=0.0, volume=0.0)
    if last.retcode in (retcodes.DONE, retcodes.DONE_PARTIAL):
        if order.action == Order.Action.OPEN and not order.account.hedging:
            order.position_ticket = _netted_into(order, driver)
        return Status.FILLED, f"Closed {len(results)} position(s)." if len(requests) > 1 else "", last
    status = Status.REJECTED if last.retcode in REJECTED_CODES else Status.FAILED
    return status, retcodes.retcode_text(last.retcode), last


def _netted_into(order: Order, driver: Driver) -> int | None:
    """The position an open that filled on a netting account is in: the symbol's one position,
    which the order may have joined (its own ticket then names no position). Its identifier,
    which a reversal keeps; None if the terminal does not say."""
    with suppress(TerminalError):
        for position in driver.positions(symbol=order.symbol):
            return position.identifier
    return None


def _send_once(driver: Driver, order: Order, request: OrderRequest) -> OrderResult:
    try:
        return order_send_for(driver, request, link=order.link, requested_symbol=order.requested_symbol)
    except TerminalError as error:
        return OrderResult(retcode=error.code, comment=error.message)


def _send(
    driver: Driver, order: Order, request: OrderRequest, *, first: OrderResult | None = None
) -> OrderResult | None:
    """order_send with bounded retries; None when the outcome could not be established.
    `first`: the answer to the request already sent."""
    result = None
    for attempt in range(MAX_SENDS):
        result = first if attempt == 0 and first is not None else _send_once(driver, order, request)
        if result.retcode in retcodes.RETRY_WITH_NEW_PRICE and request.action == TradeAction.DEAL:
            request = _repriced(driver, request)
            if request is None:
                return result
            continue
        if result.retcode in retcodes.AMBIGUOUS:
            try:
                found = find_on_terminal(driver, order)
            except TerminalError:
                return None
            if found is not None:
                return found
            continue  # checked: it is not there, so it may be sent again
        return result
    return result


def _repriced(driver: Driver, request: OrderRequest) -> OrderRequest | None:
    """A market request at the current quote; None when the symbol has none."""
    tick = driver.tick(request.symbol)
    if tick is None:
        return None
    return replace(request, price=tick.ask if request.type == OrderType.BUY else tick.bid)


def find_on_terminal(driver: Driver, order: Order) -> OrderResult | None:
    """The order's trace on the terminal (by client id in the comment), as a result."""
    if order.action == Order.Action.MODIFY_SLTP:
        return _find_sltp_change(driver, order)
    # A copy's comment is "COPY_<order_id> <client id>" (Order.terminal_comment); others carry the client id alone.
    cids = {order.client_id, order.terminal_comment}
    for position in driver.positions():
        if position.comment in cids:
            return OrderResult(
                retcode=retcodes.DONE, order=position.ticket, price=position.price_open, volume=position.volume
            )
    for pending in driver.orders():
        if pending.comment in cids:
            # Still waiting at its price: placed, not filled.
            return OrderResult(retcode=retcodes.PLACED, order=pending.ticket)
    since = (order.sent_at or order.created_at) - timedelta(minutes=5)
    for deal in driver.deals(since=since, until=timezone.now() + timedelta(minutes=5)):
        # Trades only: a balance operation's comment is the broker's, never our client id.
        if deal.type in (DealType.BUY, DealType.SELL) and deal.comment in cids:
            return OrderResult(
                retcode=retcodes.DONE, deal=deal.ticket, order=deal.order, price=deal.price, volume=deal.volume
            )
    return None


def _find_sltp_change(driver: Driver, order: Order) -> OrderResult | None:
    """An SL/TP change leaves no deal and no comment: it happened if the position shows it."""
    ticket = position_ticket(order)
    for position in driver.positions(ticket=ticket) if ticket is not None else []:
        info = driver.symbol_info(position.symbol)
        if info is not None and (position.sl, position.tp) == sltp_on_grid(order, info):
            return OrderResult(retcode=retcodes.DONE, order=position.ticket, price=position.price_open)
    return None
