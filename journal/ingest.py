"""Deals from the terminals into the journal: mapped from the driver's shape, stored once per
(account, ticket), attributed to our orders, folded into trades, and announced (signals inside
the transaction, live events after it) - for one account or a whole chunk of a host round."""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from mt5saas.events import publish_each
from terminals.drivers.base import Deal as DriverDeal
from terminals.drivers.base import DealEntry, DealReason, DealType
from terminals.models import TradingAccount

from .attribution import deals_attribute
from .models import Deal
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


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


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
    return Deal(
        owner_id=account.owner_id, account_id=account.pk, ticket=found.ticket,
        time=datetime.fromtimestamp(found.time_msc / 1000, tz=UTC), time_msc=found.time_msc,
        kind=kind, side=kind if trade else "", entry=ENTRIES.get(found.entry, "") if trade else "",
        symbol=found.symbol[:40], volume=Decimal(str(found.volume)).quantize(Decimal("0.0001")),
        price=Decimal(str(found.price)).quantize(Decimal("1e-8")), profit=_money(found.profit),
        commission=_money(found.commission), swap=_money(found.swap), fee=_money(found.fee),
        currency=account.currency or "", position=found.position_id, terminal_order=found.order,
        magic=found.magic, comment=found.comment[:64], reason=reason,
    )  # fmt: skip


def _new_only(batches: list[tuple[TradingAccount, list[DriverDeal]]]) -> list[Deal]:
    """The deals not stored yet (one query for every account); a repeat inside the batch is
    kept once, and a ticket stored for another account is stored here too, and logged."""
    wanted: dict[tuple[int, int], tuple[TradingAccount, DriverDeal]] = {}
    for account, found in batches:
        for deal in found:
            wanted.setdefault((account.pk, deal.ticket), (account, deal))
    if not wanted:
        return []
    tickets = {ticket for _, ticket in wanted}
    stored = set(Deal.objects.filter(ticket__in=tickets).values_list("account_id", "ticket"))
    elsewhere = {ticket: account for account, ticket in stored}
    new = []
    for (account_id, ticket), (account, found) in sorted(wanted.items(), key=lambda kv: (kv[1][1].time_msc, kv[0][1])):
        if (account_id, ticket) in stored:
            continue
        if ticket in elsewhere:
            log.warning(
                "deal ticket %s of account %s is also stored for account %s", ticket, account_id, elsewhere[ticket]
            )
        new.append(deal_from(account, found))
    return new


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
        Deal.objects.bulk_create(new, batch_size=500)
        _, closed = trades_rebuild(new, digits or {})
        deals_stored.send(sender=Deal, deals=new)
        if closed:
            trades_closed.send(sender=Deal, trades=closed)
        publish_each(
            [(d.owner_id, "deal", deal_payload(d)) for d in new]
            + [(t.owner_id, "trade_closed", trade_payload(t)) for t in closed]
        )
    return new


def deals_record(account: TradingAccount, deals: Iterable[DriverDeal]) -> list[Deal]:
    """deals_store for one account."""
    return deals_store([(account, list(deals))])
