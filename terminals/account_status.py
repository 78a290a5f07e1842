"""What an account's terminal is doing, as the service records it: its status and the transitions
between them (kept as AccountEvents and published live), and the figures its heartbeats report.
The host agent reports hundreds of accounts a round, so the usual round is a few statements."""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from mt5saas.db import rows_update
from mt5saas.events import publish_each, publish_to_user

from .drivers.base import AccountInfo, MarginMode
from .models import AccountEvent, EAStatus, TradingAccount
from .signals import accounts_heartbeat_recorded

log = logging.getLogger(__name__)

Status = TradingAccount.Status
CENT = Decimal("0.01")
HEARTBEAT_FIELDS = ["balance", "equity", "margin", "free_margin", "profit", "currency", "leverage", "hedging"]


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def account_info_apply(account: TradingAccount, info: AccountInfo) -> None:
    """Copy what the terminal reported onto the account (not saved)."""
    account.balance = _money(info.balance)
    account.equity = _money(info.equity)
    account.margin = _money(info.margin)
    account.free_margin = _money(info.margin_free)
    account.profit = _money(info.profit)
    account.currency = info.currency
    account.leverage = info.leverage
    account.hedging = info.margin_mode == MarginMode.RETAIL_HEDGING
    account.heartbeat_at = timezone.now()


def account_event(account: TradingAccount) -> dict:
    return {
        "account": account.pk,
        "login": account.login,
        "status": account.status,
        "reason": account.status_reason,
        "balance": str(account.balance),
        "equity": str(account.equity),
        "margin": str(account.margin),
        "free_margin": str(account.free_margin),
        "profit": str(account.profit),
    }


def account_status_record(account: TradingAccount, status: str, reason: str = "") -> None:
    """Keep a transition of the account as an AccountEvent and tell its owner's pages."""
    AccountEvent.objects.create(account=account, owner_id=account.owner_id, status=status, reason=reason[:300])
    publish_to_user(account.owner_id, "account", account_event(account))


def account_set_status(*, account: TradingAccount, status: str, reason: str = "") -> bool:
    """Move an account to a status and record the transition; False if it was already there."""
    reason = reason[:300]
    changed = (
        TradingAccount.objects.filter(pk=account.pk)
        .exclude(status=status, status_reason=reason)
        .update(status=status, status_reason=reason[:300])
    )
    if changed:
        account.status, account.status_reason = status, reason[:300]
        account_status_record(account, status, reason)
    return bool(changed)


def account_heartbeat(*, account: TradingAccount, info: AccountInfo | None, error: str = "") -> None:
    """Store what the terminal reported (money figures, online) or that it failed (offline)."""
    # Stopped or deleted meanwhile (by its owner, during this round): leave it so.
    current = TradingAccount.objects.filter(pk=account.pk, deleted_at__isnull=True).exclude(status=Status.STOPPED)
    if info is not None:
        account_info_apply(account, info)
        figures = {name: getattr(account, name) for name in [*HEARTBEAT_FIELDS, "heartbeat_at"]}
        # The usual round, one statement: an account already online just gets its figures.
        if current.filter(status=Status.ONLINE, status_reason="").update(**figures):
            account.status, account.status_reason = Status.ONLINE, ""
            publish_to_user(account.owner_id, "account", account_event(account))
            return
    if not current.exists():
        return
    if info is None:
        account_set_status(account=account, status=Status.OFFLINE, reason=error)
        return
    account.save(update_fields=[*HEARTBEAT_FIELDS, "heartbeat_at"])
    if not account_set_status(account=account, status=Status.ONLINE):
        # No transition to record, but balance and equity tick on the trader's page.
        publish_to_user(account.owner_id, "account", account_event(account))


def account_ea_report(*, account: TradingAccount, loaded: bool | None, running: bool | None, name: str) -> None:
    """Record what the account's EA said of itself in its status file, when that changed;
    an EA that says nothing of it (one from before these fields) leaves it as it was."""
    if loaded is None:
        return
    status = EAStatus.UNLOADED if not loaded else EAStatus.RUNNING if running else EAStatus.LOADED
    name = name[:64]
    if (account.ea_status, account.ea_name) != (status, name):
        TradingAccount.objects.filter(pk=account.pk).update(ea_status=status, ea_name=name)
        account.ea_status, account.ea_name = status, name


def accounts_heartbeat(*, readings: list[tuple[TradingAccount, AccountInfo]]) -> None:
    """account_heartbeat for many accounts whose terminals answered, in a few statements:
    those online without a reason (the usual round) get their figures in one UPDATE and an
    `account` event only when a figure changed, in one INSERT per owner; the others (a
    transition to record) one by one. `readings`' accounts are as read at the round's start.
    Then accounts_heartbeat_recorded (terminals.signals) with the readings."""
    usual, others, changed = [], [], []
    for account, info in readings:
        if account.status != Status.ONLINE or account.status_reason:
            others.append((account, info))
            continue
        before = account_event(account)
        account_info_apply(account, info)
        usual.append(account)
        if (event := account_event(account)) != before:
            changed.append((account.owner_id, "account", event))
    with transaction.atomic():
        if usual and _figures_write(usual) < len(usual):
            # Stopped, deleted or taken offline meanwhile: all go one by one instead (each of
            # those statements checks itself), so such an account is left as it is.
            transaction.set_rollback(True)
            others, changed = readings, []
        publish_each(changed)
    for account, info in others:
        account_heartbeat(account=account, info=info)
    if readings:
        for receiver, outcome in accounts_heartbeat_recorded.send_robust(sender=TradingAccount, readings=readings):
            if isinstance(outcome, Exception):
                log.error("%s failed for %s heartbeat(s)", receiver, len(readings), exc_info=outcome)


def _figures_write(accounts: list[TradingAccount]) -> int:
    """The figures of accounts still online without a reason, in one statement; returns how many were written."""
    where = "status = %s AND status_reason = '' AND deleted_at IS NULL"
    return rows_update(accounts, [*HEARTBEAT_FIELDS, "heartbeat_at"], where=where, params=[Status.ONLINE])
