"""Deals from the terminals into the journal: mapped from the driver's shape, stored once per
(account, ticket), attributed to our orders, folded into trades, and announced (signals inside
the transaction, live events after it) - for one account or a whole chunk of a host round."""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.db import transaction
from django.db.models import Q

from mt5saas.db import row_new, rows_insert
from mt5saas.events import publish_each
from terminals.drivers.base import Deal as DriverDeal
from terminals.drivers.base import DealEntry, DealReason, DealType
from terminals.models import TradingAccount

from .attribution import deals_attribute
from .models import Deal, Trade
from .payloads import deal_payload, trade_payload
from .signals import deals_stored, trades_closed
from .trades import trades_rebuild

log = logging.getLogger(__name__)

KINDS = {
    DealType.BUY: Deal.Kind.BUY,
    DealType.SELL: Deal.Kind.SELL,
    DealType.BALANCE: Deal.Kind.BALANCE,
    DealType.CREDIT: Deal.Kind.CREDIT,
    DealType.CHARGE: Deal.Kind.CHARGE,
    DealType.CORRECTION: Deal.Kind.CORRECTION,
    DealType.BONUS: Deal.Kind.BONUS,
    DealType.COMMISSION: Deal.Kind.COMMISSION,
    DealType.COMMISSION_DAILY: Deal.Kind.COMMISSION,
    DealType.COMMISSION_MONTHLY: Deal.Kind.COMMISSION,
    DealType.COMMISSION_AGENT_DAILY: Deal.Kind.COMMISSION,
    DealType.COMMISSION_AGENT_MONTHLY: Deal.Kind.COMMISSION,
    DealType.INTEREST: Deal.Kind.INTEREST,
    DealType.BUY_CANCELED: Deal.Kind.CANCELED,
    DealType.SELL_CANCELED: Deal.Kind.CANCELED,
    DealType.DIVIDEND: Deal.Kind.DIVIDEND,
    DealType.DIVIDEND_FRANKED: Deal.Kind.DIVIDEND,
    DealType.TAX: Deal.Kind.TAX,
}
ENTRIES = {
    DealEntry.IN: Deal.Entry.IN,
    DealEntry.OUT: Deal.Entry.OUT,
    DealEntry.INOUT: Deal.Entry.INOUT,
    DealEntry.OUT_BY: Deal.Entry.OUT_BY,
}
REASONS = {reason.value: Deal.Reason(reason.name.lower()) for reason in DealReason}
# A type the terminal knows and we do not (a newer MT5) is kept as a money movement: it moved
# the balance, so it stays on record, but is never folded into a trade.
UNKNOWN_KIND = Deal.Kind.CORRECTION
CENT, LOT, PRICE = Decimal("0.01"), Decimal("0.0001"), Decimal("1e-8")
# Tickets per query when looking them up (bind parameters stay far below any backend's limit).
CHUNK = 5000
# More new deals than this for one account in one store: its newest this many are published as
# `deal` events, and one `journal_reloaded` tells a page to reload instead.
BURST = 50


@lru_cache(maxsize=4096)
def _decimal(value: float, places: Decimal) -> Decimal:
    """The terminal's float as written (its shortest repr), to the column's places. Cached: a
    history repeats its volumes, zero costs and round prices."""
    return Decimal(str(value)).quantize(places)


def _money(value: float) -> Decimal:
    return _decimal(value, CENT)


def _when(time_msc: int) -> datetime:
    return datetime.fromtimestamp(time_msc / 1000, tz=UTC)


def deal_from(account: TradingAccount, found: DriverDeal) -> Deal:
    """A journal deal from a driver's (unsaved, unattributed). An unknown type or reason is
    stored under a safe value and logged, never dropped."""
    kind = KINDS.get(found.type)
    if kind is None:
        log.warning(
            "account %s deal %s: unknown deal type %s, stored as %s", account.pk, found.ticket, found.type, UNKNOWN_KIND
        )
        kind = UNKNOWN_KIND
    reason = REASONS.get(found.reason)
    if reason is None:
        # Nobody of ours asked for it: "client" (by hand) is the reading that claims nothing.
        log.warning(
            "account %s deal %s: unknown deal reason %s, stored as client", account.pk, found.ticket, found.reason
        )
        reason = Deal.Reason.CLIENT
    trade = kind in (Deal.Kind.BUY, Deal.Kind.SELL)
    return row_new(
        Deal,
        owner_id=account.owner_id, account_id=account.pk, ticket=found.ticket,
        time=_when(found.time_msc), time_msc=found.time_msc,
        kind=kind, side=kind if trade else "", entry=ENTRIES.get(found.entry, "") if trade else "",
        symbol=found.symbol[:40], volume=_decimal(found.volume, LOT),
        price=_decimal(found.price, PRICE), profit=_money(found.profit),
        commission=_money(found.commission), swap=_money(found.swap), fee=_money(found.fee),
        currency=account.currency or "", position=found.position_id, terminal_order=found.order,
        magic=found.magic, comment=found.comment[:64], reason=reason,
    )  # fmt: skip


def _stored_keys(wanted: dict[tuple[int, int], tuple[TradingAccount, DriverDeal]]) -> set[tuple[int, int]]:
    """(account, ticket) of the stored deals among `wanted`, read by each account's window (from
    its earliest new deal on: a round's overlap, nothing on a first read), not by a ticket list
    that can outgrow a statement's parameters. Accounts with the same window share a condition."""
    earliest: dict[int, int] = {}
    for (account_id, _), (_, found) in wanted.items():
        earliest[account_id] = min(found.time_msc, earliest.get(account_id, found.time_msc))
    by_since: dict[int, list[int]] = defaultdict(list)
    for account_id, since in earliest.items():
        by_since[since].append(account_id)
    window = Q()
    for since, accounts in by_since.items():
        window |= Q(account_id__in=accounts, time__gte=_when(since - 1))  # a millisecond of rounding
    return set(Deal.objects.filter(window).values_list("account_id", "ticket")) & wanted.keys()


def _elsewhere(new: list[Deal]) -> None:
    """Log the tickets also stored for another account (stored here all the same): a broker's
    tickets are its own, so two accounts of different brokers may share one."""
    for start in range(0, len(new), CHUNK):
        chunk = {d.ticket: d.account_id for d in new[start : start + CHUNK]}
        for account_id, ticket in Deal.objects.filter(ticket__in=chunk).values_list("account_id", "ticket"):
            if account_id != chunk[ticket]:
                log.warning(
                    "deal ticket %s of account %s is also stored for account %s", ticket, chunk[ticket], account_id
                )


def _new_only(batches: list[tuple[TradingAccount, list[DriverDeal]]]) -> list[Deal]:
    """The deals not stored yet, oldest first; a repeat inside the batch is kept once, and a
    ticket stored for another account is stored here too, and logged."""
    wanted: dict[tuple[int, int], tuple[TradingAccount, DriverDeal]] = {}
    for account, found in batches:
        for deal in found:
            wanted.setdefault((account.pk, deal.ticket), (account, deal))
    if not wanted:
        return []
    stored = _stored_keys(wanted)
    fresh = sorted((kv for kv in wanted.items() if kv[0] not in stored), key=lambda kv: (kv[1][1].time_msc, kv[0][1]))
    new = [deal_from(account, found) for _, (account, found) in fresh]
    _elsewhere(new)
    return new


def _announce(new: list[Deal], written: list[Trade], closed: list[Trade]) -> None:
    """`deal` and `trade_closed` events; an account that brought more than BURST deals at once
    (a first read, a long gap) gets its newest BURST of each and then one `journal_reloaded`
    {account, deals, trades}: a page reloads its journal rather than take them one by one."""
    deals, shut, trades = defaultdict(list), defaultdict(list), Counter(t.account_id for t in written)
    for deal in new:
        deals[deal.account_id].append(deal)
    for trade in closed:
        shut[trade.account_id].append(trade)
    events = []
    for account_id, found in deals.items():
        ended = sorted(shut.pop(account_id, []), key=lambda t: (t.close_time, t.open_deal))
        burst = len(found) > BURST
        events += [(d.owner_id, "deal", deal_payload(d)) for d in (found[-BURST:] if burst else found)]
        events += [(t.owner_id, "trade_closed", trade_payload(t)) for t in (ended[-BURST:] if burst else ended)]
        if burst:
            reloaded = {"account": account_id, "deals": len(found), "trades": trades[account_id]}
            events.append((found[0].owner_id, "journal_reloaded", reloaded))
    publish_each(events)


def deals_store(
    batches: list[tuple[TradingAccount, list[DriverDeal]]], *, digits: dict[tuple[int, str], int] | None = None
) -> list[Deal]:
    """Store the deals of these accounts not stored yet, attribute them, rebuild the trades of
    the positions they touch, and send deals_stored and trades_closed, in one transaction;
    returns the deals stored now. Idempotent: what was stored before is not stored, sent or
    published again. `digits`: (account id, symbol) → digits, for pips and slippage."""
    with transaction.atomic():
        new = _new_only(batches)
        if not new:
            return []
        deals_attribute(new)
        # A row stored meanwhile with another time (outside the window) is skipped, not an error.
        stored = rows_insert(new, unique=["account", "ticket"])
        if len(stored) < len(new):
            log.warning("%s deals were stored already, outside the window read", len(new) - len(stored))
            new = stored
        written, closed = trades_rebuild(new, digits or {})
        deals_stored.send(sender=Deal, deals=new)
        if closed:
            trades_closed.send(sender=Deal, trades=closed)
        _announce(new, written, closed)
    return new


def deals_record(account: TradingAccount, deals: Iterable[DriverDeal]) -> list[Deal]:
    """deals_store for one account."""
    return deals_store([(account, list(deals))])
