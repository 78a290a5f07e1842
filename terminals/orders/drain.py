"""Draining accounts: under its drain lock, an account's waiting orders executed oldest first.

An order moves queued → sending in a committed write before its terminal is called; one found
already `sending` (a worker died mid-call, the broker redelivered) is looked for on the
terminal before anything is sent. A fan-out's drain takes the first order of each account
whose terminal is in the database in one round: locks, reads, claim, sends and final states a
few statements for all of them; what is left goes account by account.
"""

import logging
from contextlib import suppress
from datetime import timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .. import retcodes
from ..drivers import open_driver, read_at_once, terminal_in_database
from ..drivers.base import Driver, TerminalError
from ..models import Order, TradingAccount
from .guards import RoundLookups
from .locks import drain_lock, drain_locks, lease_extend, lease_release, lease_take
from .record import finish, finish_many, publish_orders
from .send import carry_out, carry_out_many, find_on_terminal

log = logging.getLogger(__name__)

Status = Order.Status
# A real terminal may still carry out what a worker asked just before it died: an interrupted
# order it does not show is resent only this long after it was sent.
SETTLE = timedelta(seconds=60)
MAX_CHECKS = 5  # drains that may find an order's fate unknown before it is declared failed
# Queued orders of an account whose terminal does not answer fail after this long.
UNANSWERED = timedelta(seconds=60)
NOT_TRADING = (TradingAccount.Status.STOPPED, TradingAccount.Status.ERROR)


def _waiting(account_ids: list[int]) -> QuerySet[Order]:
    return Order.objects.filter(account_id__in=account_ids, status__in=[Status.QUEUED, Status.SENDING])


def accounts_drain(account_ids: list[int]) -> int:
    """Execute the waiting orders of several accounts (a fan-out's share of accounts on one
    queue); returns how many reached a final state. The first orders go in one round
    (_first_orders_round); what is left then goes account by account. One account's failure
    does not keep the others waiting: its orders stay for the sweeper."""
    done, unsettled = 0, set()
    try:
        done, unsettled = _first_orders_round(account_ids)
    except Exception:
        log.exception("the drain of accounts %s together failed", account_ids)
    waiting = set(_waiting(account_ids).values_list("account_id", flat=True))
    for account_id in account_ids:
        if account_id not in waiting or account_id in unsettled:
            continue
        try:
            done += account_drain(account_id)
        except Exception:
            log.exception("the drain of account %s failed", account_id)
    return done


def account_drain(account_id: int) -> int:
    """Execute the account's waiting orders, oldest first; returns how many reached a final
    state. Safe to call any number of times at once: only the holder of its lock (or lease) works."""
    done = 0
    while _waiting([account_id]).exists():
        with drain_lock(account_id) as locked:
            # The lock admits one drain and goes with its holder; the lease (two writes per
            # drain) stands in for it only where there is none.
            leased = timezone.now() if locked is None else None
            if locked is False or (leased and not lease_take(account_id)):
                return done  # another drain holds the account; it loops until nothing waits
            driver, stale = None, False
            try:
                for order in _waiting([account_id]).select_related("account").order_by("created_at", "pk"):
                    if driver is None:
                        # A lease left by a drain that died (without a lock, it waited to expire): cleared below.
                        stale = order.account.drain_until is not None
                        driver, ended = _open_account(order)
                        if driver is None:
                            return done + ended  # refused, or the terminal is away: orders wait for the sweeper
                    finished = order_execute(order=order, driver=driver)
                    done += finished
                    if leased:
                        leased = lease_extend(account_id, leased)
                    if not finished and _waiting([account_id]).filter(pk=order.pk).exists():
                        return done  # its fate is not known yet: the orders after it wait for the sweeper
            finally:
                if driver is not None:
                    driver.shutdown()
                if leased or stale:
                    lease_release(account_id)
    return done


def _open_account(order: Order) -> tuple[Driver | None, int]:
    """The driver of the order's account; or None when its orders cannot go now, with how many
    of them ended (refused: the account is not to be traded; failed: its terminal has long
    not answered)."""
    account = order.account
    if account.status in NOT_TRADING or account.deleted_at:
        reason = f"Account {account.login} is {account.status}: {account.status_reason or 'not trading'}"
        refused = list(_waiting([account.pk]).filter(status=Status.QUEUED))
        for waiting in refused:
            finish(waiting, Status.REJECTED, reason=reason)
        return None, len(refused)
    try:
        return open_driver(account), 0
    except TerminalError as error:
        log.warning("account %s: terminal unavailable (%s); orders wait", account.pk, error.message)
        queued = _waiting([account.pk]).filter(status=Status.QUEUED)
        stale = list(queued.filter(created_at__lt=timezone.now() - UNANSWERED))
        for waiting in stale:
            finish(waiting, Status.FAILED, reason=f"The terminal did not answer: {error.message}")
        return None, len(stale)


def _first_orders_round(account_ids: list[int]) -> tuple[int, set[int]]:
    """The first waiting order of each account among these whose terminal is in the database,
    in one round: claimed together (one committed write before any terminal is called), sent
    together (Driver.order_send_many), recorded together. Returns how many reached a final
    state, and the accounts whose order's fate is not known yet (their next orders wait for
    the sweeper).

    Everything else goes account by account through account_drain: an interrupted order, an
    account not to be traded or whose terminal does not answer, and real terminals, whose sends
    take far longer than the bookkeeping and which are better claimed one order at a time (an
    order claimed but never sent waits SETTLE after a crash)."""
    with drain_locks(account_ids) as held:
        firsts: dict[int, Order] = {}
        for order in _waiting(held).select_related("account").order_by("created_at", "pk"):
            firsts.setdefault(order.account_id, order)
        ready = [
            order
            for order in firsts.values()
            if order.status == Status.QUEUED
            and terminal_in_database(order.account.kind)
            and order.account.status not in NOT_TRADING
            and not order.account.deleted_at
        ]
        if not ready:
            return 0, set()
        drivers: dict[int, Driver] = {}
        try:
            with read_at_once(order.account for order in ready):
                for order in ready:
                    with suppress(TerminalError):  # left to account_drain, which says what waits
                        drivers[order.pk] = open_driver(order.account)
            claimed = _claim_many([order for order in ready if order.pk in drivers])
            outcomes = carry_out_many([(order, drivers[order.pk]) for order in claimed], RoundLookups.read(claimed))
            finished, done, unsettled = [], 0, set()
            for order, outcome in zip(claimed, outcomes, strict=True):
                if outcome is None:
                    done += _fate_unknown(order)
                    unsettled.add(order.account_id)
                else:
                    finished.append((order, *outcome))
            finish_many(finished)
            return done + len(finished), unsettled
        finally:
            for driver in drivers.values():
                driver.shutdown()


def _claim_many(orders: list[Order]) -> list[Order]:
    """queued → sending for all of them in one committed write, before any terminal is
    called; none if any of them is no longer queued."""
    if not orders:
        return []
    now = timezone.now()
    with transaction.atomic():  # the states and their events: one write
        claimed = Order.objects.filter(pk__in=[order.pk for order in orders], status=Status.QUEUED).update(
            status=Status.SENDING, sent_at=now, attempts=F("attempts") + 1
        )
        if claimed != len(orders):
            transaction.set_rollback(True)
            return []
        for order in orders:
            order.status, order.sent_at, order.attempts = Status.SENDING, now, order.attempts + 1
        publish_orders(orders)
    return orders


def order_execute(*, order: Order, driver: Driver) -> int:
    """Bring one order to a final state (1) or leave it `sending` for a later check (0)."""
    if order.status == Status.SENDING:
        # Interrupted before: the terminal decides whether it exists, not a resend.
        try:
            found = find_on_terminal(driver, order)
        except TerminalError:
            return _fate_unknown(order)
        if found is not None:
            status = Status.PLACED if found.retcode == retcodes.PLACED else Status.FILLED
            finish(order, status, reason="Found on the terminal after an interruption.", result=found)
            return 1
        if not _may_resend(order):
            return 0  # the terminal may still be carrying out what a dead worker asked: look again later
    elif not _claim_many([order]):
        return 0  # not queued any more: another drain has it
    outcome = carry_out(order, driver)
    if outcome is None:
        return _fate_unknown(order)
    finish(order, outcome[0], reason=outcome[1], result=outcome[2])
    return 1


def _may_resend(order: Order) -> bool:
    """Whether an interrupted order the terminal does not show may be sent (again). A terminal
    in the database: what a dead worker left unfinished was rolled back before its drain lock
    or lease could be taken. A real terminal gets SETTLE."""
    if terminal_in_database(order.account.kind):
        return True
    return order.sent_at is None or order.sent_at < timezone.now() - SETTLE


def _fate_unknown(order: Order) -> int:
    """The terminal cannot say whether the order exists: keep it `sending` for the sweeper,
    up to MAX_CHECKS drains, then say so plainly."""
    Order.objects.filter(pk=order.pk).update(attempts=order.attempts + 1)
    order.attempts += 1
    if order.attempts >= MAX_CHECKS:
        finish(
            order,
            Status.FAILED,
            reason="The terminal never confirmed or denied this order: check the account before resending.",
        )
        return 1
    return 0
