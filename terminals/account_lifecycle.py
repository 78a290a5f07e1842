"""A registered account's life: its settings, being the owner's current account, its terminal
started, stopped or restarted on its host, and its soft delete. A start or stop goes to the host
first: when the host cannot do it, nothing changes here."""

import contextlib

from django.db import transaction
from django.utils import timezone

from .account_status import account_heartbeat, account_set_status
from .drivers.base import TerminalError
from .errors import AccountError
from .gateway import host_call, host_task_enqueue, simulated_driver, terminal_read
from .models import SymbolMapping, TerminalHost, TradingAccount
from .selectors import account_current
from .symbols import SymbolError, symbol_mapping_set

Status = TradingAccount.Status
INSTANCE_ACTIONS = ("start", "stop", "restart")


def account_update(*, account: TradingAccount, **fields) -> TradingAccount:
    for name, value in fields.items():
        setattr(account, name, value)
    account.save(update_fields=list(fields))
    return account


def account_edit(
    *, account: TradingAccount, active: bool | None = None, current: bool | None = None, **fields
) -> TradingAccount:
    """A trader's edit of an account: its settings `fields`; `active` starts or stops its
    terminal (when that changes anything); `current` True makes it the current account.

    The start or stop goes first: when the host cannot do it, AccountError and nothing changed.
    """
    is_default = current is not None and account_current(user=account.owner) == account
    if current is False and is_default:
        raise AccountError(
            "An account stops being the default when another one is made the default.", field="is_default"
        )
    if active is not None and active != account.is_active:
        account_instance(account=account, action="start" if active else "stop")
    if fields:
        account_update(account=account, **fields)
    if current and not is_default:
        account_switch(account=account)
    return account


@transaction.atomic
def account_switch(*, account: TradingAccount) -> TradingAccount:
    """Make the account the owner's current one (used when a request names none)."""
    TradingAccount.objects.filter(owner_id=account.owner_id, is_current=True).update(is_current=False)
    account.is_current = True
    account.save(update_fields=["is_current"])
    return account


def account_instance(*, account: TradingAccount, action: str) -> TradingAccount:
    """Start, stop or restart the account's terminal instance on its host.

    A stopped account gets no heartbeats and takes no orders until started again.
    """
    if action not in INSTANCE_ACTIONS:
        raise AccountError(f"Unknown action {action!r}; use start, stop or restart.")
    if account.host is None:
        raise AccountError("The account has no host yet; it starts when one has room.", code=AccountError.CONFLICT)
    if account.kind != TradingAccount.Kind.SIMULATED:
        try:
            host_call(account.host, "terminals.tasks.instance_action", account.pk, action)
        except TerminalError as error:
            raise AccountError(
                f"The host could not {action} the terminal: {error.message}", code=AccountError.CONFLICT
            ) from None
    if action == "stop":
        account_set_status(account=account, status=Status.STOPPED, reason="Stopped by its owner.")
        return account
    account_set_status(account=account, status=Status.CONNECTING, reason=f"{action.title()}ed by its owner.")
    if account.kind == TradingAccount.Kind.SIMULATED:
        driver = simulated_driver(account)
        try:
            account_heartbeat(account=account, info=driver.account_info())
        finally:
            driver.shutdown()
    return account


def instance_stop(account: TradingAccount) -> None:
    """Stop the account's terminal on its host, so nothing keeps trading or reporting for a
    deleted or moved account. Best effort: an unreachable host no longer serves it anyway."""
    host = account.host
    if host is None or account.kind == TradingAccount.Kind.SIMULATED or not host.online:
        return
    with contextlib.suppress(TerminalError):
        host_call(host, "terminals.tasks.instance_action", account.pk, "stop")


def account_delete(*, account: TradingAccount, confirm: bool) -> None:
    """Soft delete: history keeps pointing at the account; the terminal instance stops, and
    its portable folder on the host is removed by a task of that host (instance_remove).
    Open positions need `confirm`: they stay open at the broker."""
    try:
        open_positions = len(terminal_read(account, "positions"))
    except TerminalError:
        open_positions = 0  # nothing readable to warn about; the delete keeps history either way
    if open_positions and not confirm:
        raise AccountError(
            f"This account has {open_positions} open position(s). They stay open at the broker; "
            "send confirm=true to delete the account anyway (its terminal and its folder on the host go).",
            code=AccountError.CONFLICT,
        )
    instance_stop(account)
    account.deleted_at = timezone.now()
    account.is_current = False
    account.save(update_fields=["deleted_at", "is_current"])
    account_set_status(account=account, status=Status.STOPPED, reason="Deleted by its owner.")
    if _has_instance(account):
        # Not waited for: copying a folder of an MT5 installation away takes a while, and a
        # host that is down now removes it when its worker comes back.
        host_task_enqueue(
            account.host, "terminals.tasks.instance_remove", account.pk, task_name=f"instance-remove-{account.pk}"
        )


def _has_instance(account: TradingAccount) -> bool:
    """Whether the account's terminal is a portable instance on a Windows host."""
    host = account.host
    return host is not None and host.kind == TerminalHost.Kind.WINDOWS and account.kind != TradingAccount.Kind.SIMULATED


def account_instance_removed(*, account: TradingAccount, host: TerminalHost, error: str = "") -> None:
    """Record on a deleted account that its host removed its portable folder, or why it could not."""
    where = f"{host.name}:{account.login}"
    reason = f"Deleted by its owner; its terminal folder {where} was removed."
    if error:
        reason = f"Deleted by its owner; its terminal folder {where} could not be removed: {error}"
    account_set_status(account=account, status=Status.STOPPED, reason=reason)


def symbol_mapping_add(*, account: TradingAccount, requested: str, broker_symbol: str) -> SymbolMapping:
    """A custom mapping, checked against the symbols the account's terminal offers (when it
    can answer; otherwise the first order that uses the mapping checks it)."""
    try:
        available = terminal_read(account, "symbols")
    except TerminalError:
        available = None
    if available is not None and broker_symbol not in available:
        raise AccountError(f"{broker_symbol[:40]} is not a symbol on this account.", field="broker_symbol")
    try:
        return symbol_mapping_set(account=account, requested=requested, broker_symbol=broker_symbol)
    except SymbolError as error:
        raise AccountError(str(error), field="requested") from None
