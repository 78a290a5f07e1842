"""Writes of the terminals app: hosts, account registration and lifecycle, heartbeats."""

import contextlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from mt5saas.crypto import encrypt
from mt5saas.db import rows_update
from mt5saas.events import publish_each, publish_to_user

from .drivers.base import AccountInfo, MarginMode, TerminalError
from .models import (
    LOGIN_MESSAGE,
    LOGIN_PATTERN,
    AccountEvent,
    EAStatus,
    SimAccount,
    TerminalHost,
    TradingAccount,
)
from .retcodes import retcode_text
from .selectors import account_current

Status = TradingAccount.Status
CENT = Decimal("0.01")


class AccountError(Exception):
    """A request about an account that cannot be carried out; the message says why."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


# --- Hosts --------------------------------------------------------------------------


def simulated_host() -> TerminalHost:
    """The host of simulated accounts: the default qcluster, so one Linux box is a full system."""
    host, _ = TerminalHost.objects.get_or_create(
        queue_name=settings.Q_CLUSTER["name"],
        defaults={"name": "simulated", "kind": TerminalHost.Kind.SIMULATED, "capacity": 10_000, "online": True},
    )
    return host


def host_register(*, name: str, queue_name: str, capacity: int, instance_root: str = "") -> TerminalHost:
    host, _ = TerminalHost.objects.update_or_create(
        queue_name=queue_name,
        defaults={
            "name": name,
            "kind": TerminalHost.Kind.WINDOWS,
            "capacity": capacity,
            "instance_root": instance_root,
        },
    )
    return host


def host_pick(*, kind: str) -> TerminalHost | None:
    """The online host with the lowest load under its capacity, for an account of this kind."""
    if kind == TradingAccount.Kind.SIMULATED:
        simulated_host()
        host_kind = TerminalHost.Kind.SIMULATED
    else:
        host_kind = TerminalHost.Kind.WINDOWS
    candidates = TerminalHost.objects.with_load().filter(kind=host_kind, online=True)
    return next((host for host in candidates.order_by("load", "pk") if host.load < host.capacity), None)


# --- Accounts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    server: str


def _verify(*, host: TerminalHost, kind: str, credentials: Credentials) -> AccountInfo:
    """Log in on the account's host to prove the credentials; raises TerminalError."""
    if host.kind == TerminalHost.Kind.SIMULATED:
        from .paper.driver import SimulatedDriver

        driver = SimulatedDriver()
        try:
            return driver.connect(
                login=int(credentials.login), password=credentials.password, server=credentials.server
            )
        finally:
            driver.shutdown()
    from .gateway import HOST_TIMEOUT_S, host_call  # a Windows host's terminals are reached through its queue

    # An EA bridge login restarts the terminal and waits for its EA: give it that long.
    login_wait = settings.EA_LOGIN_TIMEOUT_S + 15 if kind == TradingAccount.Kind.EA_BRIDGE else HOST_TIMEOUT_S
    return host_call(
        host,
        "terminals.tasks.verify_credentials",
        kind,
        credentials.login,
        encrypt(credentials.password),
        credentials.server,
        timeout=login_wait,
    )


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _apply_info(account: TradingAccount, info: AccountInfo) -> None:
    account.balance = _money(info.balance)
    account.equity = _money(info.equity)
    account.margin = _money(info.margin)
    account.free_margin = _money(info.margin_free)
    account.profit = _money(info.profit)
    account.currency = info.currency
    account.leverage = info.leverage
    account.hedging = info.margin_mode == MarginMode.RETAIL_HEDGING
    account.heartbeat_at = timezone.now()


def account_connect(
    *,
    owner,
    login: str,
    password: str,
    server: str,
    kind: str,
    broker: str = "",
    nickname: str = "",
    is_demo: bool = True,
    make_current: bool = False,
) -> TradingAccount:
    """Register an MT5 account: assign a host, log in there, store it online; `make_current`
    makes it the owner's current account too.

    Wrong credentials raise AccountError with MT5's reason and store nothing. With no
    online host the account is stored `unassigned` with the reason, and connects when a
    host comes up.
    """
    if TradingAccount.objects.alive().filter(server=server, login=login).exists():
        raise AccountError("This MT5 account is already registered.", field="login")
    host = host_pick(kind=kind)
    info = None
    if host is not None:
        try:
            info = _verify(host=host, kind=kind, credentials=Credentials(login, password, server))
        except TerminalError as error:
            raise AccountError(f"MT5 refused the login: {error.message} ({retcode_text(error.code)})") from None
    # An account imported from the single-user bot (no server yet) is completed, not doubled:
    # its pairs, mappings and history stay with it.
    imported = TradingAccount.objects.owned_by(owner).alive().filter(login=login, server="").first()
    account = imported or TradingAccount(owner=owner, login=login)
    account.server, account.kind, account.is_demo = server, kind, is_demo
    account.broker = broker or account.broker
    account.nickname = nickname or account.nickname
    account.password, account.status_reason = encrypt(password), ""
    account.host = host
    account.logged_in_host = host if info is not None and kind == TradingAccount.Kind.EA_BRIDGE else None
    if info is None:
        account.status = Status.UNASSIGNED
        account.status_reason = f"No online {kind} host has room; the account connects when one does."
    else:
        account.status = Status.ONLINE
        _apply_info(account, info)
        if kind == TradingAccount.Kind.SIMULATED:
            from .paper.market import SERVERS

            account.symbols = list(SERVERS[server])
    try:
        with transaction.atomic():
            account.save()
            _record(account, account.status, account.status_reason)
    except IntegrityError:
        # Another request registered the same login between the check and the insert.
        raise AccountError("This MT5 account is already registered.", field="login") from None
    if make_current:
        account_switch(account=account)
    return account


def account_import(*, owner, login: str, nickname: str = "", broker: str = "") -> tuple[TradingAccount, bool]:
    """The owner's live account with this login, or a new EA bridge account for it from the
    single-user bot (which kept no server or password): stored `stopped` with a reason, so
    nothing is traded on it until it is connected. Returns (account, created).

    Raises AccountError for a login that is not an MT5 login or that another user registered.
    """
    if not re.fullmatch(LOGIN_PATTERN, login):
        raise AccountError(f"{login[:30]!r} is not an MT5 login ({LOGIN_MESSAGE})", field="login")
    live = TradingAccount.objects.alive().filter(login=login)
    if live.exclude(owner=owner).exists():
        raise AccountError(f"MT5 account {login} is registered by another user.", field="login")
    if (account := live.filter(owner=owner).order_by("pk").first()) is not None:
        return account, False
    account = TradingAccount(
        owner=owner,
        login=login,
        server="",
        kind=TradingAccount.Kind.EA_BRIDGE,
        broker=broker[:100],
        nickname=nickname[:60],
        status=Status.STOPPED,
        status_reason="Imported from the single-user bot: connect it with its server and password to trade.",
    )
    with transaction.atomic():
        account.save()
        _record(account, account.status, account.status_reason)
    return account, True


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


def _record(account: TradingAccount, status: str, reason: str = "") -> None:
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
        _record(account, status, reason)
    return bool(changed)


HEARTBEAT_FIELDS = ["balance", "equity", "margin", "free_margin", "profit", "currency", "leverage", "hedging"]


def account_heartbeat(*, account: TradingAccount, info: AccountInfo | None, error: str = "") -> None:
    """Store what the terminal reported (money figures, online) or that it failed (offline)."""
    # Stopped or deleted meanwhile (by its owner, during this round): leave it so.
    current = TradingAccount.objects.filter(pk=account.pk, deleted_at__isnull=True).exclude(status=Status.STOPPED)
    if info is not None:
        _apply_info(account, info)
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
    transition to record) one by one. `readings`' accounts are as read at the round's start."""
    usual, others, changed = [], [], []
    for account, info in readings:
        if account.status != Status.ONLINE or account.status_reason:
            others.append((account, info))
            continue
        before = account_event(account)
        _apply_info(account, info)
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


def _figures_write(accounts: list[TradingAccount]) -> int:
    """The figures of accounts still online without a reason, in one statement; returns how many were written."""
    where = "status = %s AND status_reason = '' AND deleted_at IS NULL"
    return rows_update(accounts, [*HEARTBEAT_FIELDS, "heartbeat_at"], where=where, params=[Status.ONLINE])


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


def account_delete(*, account: TradingAccount, confirm: bool) -> None:
    """Soft delete: history keeps pointing at the account; the terminal instance stops, and
    its portable folder on the host is removed by a task of that host (instance_remove).
    Open positions need `confirm`: they stay open at the broker."""
    from .gateway import terminal_read

    try:
        open_positions = len(terminal_read(account, "positions"))
    except TerminalError:
        open_positions = 0  # nothing readable to warn about; the delete keeps history either way
    if open_positions and not confirm:
        raise AccountError(
            f"This account has {open_positions} open position(s). They stay open at the broker; "
            "send confirm=true to delete the account anyway (its terminal and its folder on the host go).",
            status=409,
        )
    _instance_stop(account)
    account.deleted_at = timezone.now()
    account.is_current = False
    account.save(update_fields=["deleted_at", "is_current"])
    account_set_status(account=account, status=Status.STOPPED, reason="Deleted by its owner.")
    if _has_instance(account):
        # Not waited for: copying a folder of an MT5 installation away takes a while, and a
        # host that is down now removes it when its worker comes back.
        async_task(
            "terminals.tasks.instance_remove",
            account.pk,
            cluster=account.host.queue_name,
            task_name=f"instance-remove-{account.pk}",
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


def _instance_stop(account: TradingAccount) -> None:
    """Stop the account's terminal on its host, so nothing keeps trading or reporting for a
    deleted or moved account. Best effort: an unreachable host no longer serves it anyway."""
    host = account.host
    if host is None or account.kind == TradingAccount.Kind.SIMULATED or not host.online:
        return
    from .gateway import host_call

    with contextlib.suppress(TerminalError):
        host_call(host, "terminals.tasks.instance_action", account.pk, "stop")


@transaction.atomic
def account_switch(*, account: TradingAccount) -> TradingAccount:
    """Make the account the owner's current one (used when a request names none)."""
    TradingAccount.objects.filter(owner_id=account.owner_id, is_current=True).update(is_current=False)
    account.is_current = True
    account.save(update_fields=["is_current"])
    return account


def hosts_mark_stale(*, interval: timedelta) -> list[TerminalHost]:
    """Hosts whose heartbeat is three intervals late go offline, and their accounts with them."""
    cutoff = timezone.now() - 3 * interval
    stale = list(TerminalHost.objects.filter(online=True, heartbeat_at__lt=cutoff))
    for host in stale:
        TerminalHost.objects.filter(pk=host.pk).update(online=False)
        live = host.accounts.filter(deleted_at__isnull=True)
        for account in live.exclude(status__in=[Status.OFFLINE, Status.STOPPED]):
            account_set_status(account=account, status=Status.OFFLINE, reason=f"Host {host.name} stopped answering.")
    return stale


DEMO_SERVERS = ("SimBroker-Demo", "SimStandard-Demo")


def demo_accounts(*, owner, count: int) -> list[dict]:
    """The owner's simulated accounts for `manage.py demo`: reused when they exist, created
    (alternating between the two simulated brokers) up to `count`."""
    from .paper.market import SERVERS

    existing = list(TradingAccount.objects.owned_by(owner).alive().filter(kind=TradingAccount.Kind.SIMULATED))
    for index in range(len(existing), count):
        server = DEMO_SERVERS[index % len(DEMO_SERVERS)]
        # Logins derived from the owner keep reruns and other demo users apart.
        login = str(90_000_000 + owner.pk * 100 + index)
        password = secrets.token_urlsafe(12)
        SimAccount.objects.filter(server=server, login=int(login)).delete()
        existing.append(
            account_connect(
                owner=owner,
                login=login,
                password=password,
                server=server,
                kind="simulated",
                nickname=f"Paper {index + 1}",
            )
        )
    return [
        {"id": a.pk, "login": a.login, "server": a.server, "symbols": list(SERVERS[a.server])} for a in existing[:count]
    ]


INSTANCE_ACTIONS = ("start", "stop", "restart")


def account_instance(*, account: TradingAccount, action: str) -> TradingAccount:
    """Start, stop or restart the account's terminal instance on its host.

    A stopped account gets no heartbeats and takes no orders until started again.
    """
    if action not in INSTANCE_ACTIONS:
        raise AccountError(f"Unknown action {action!r}; use start, stop or restart.")
    if account.host is None:
        raise AccountError("The account has no host yet; it starts when one has room.", status=409)
    if account.kind != TradingAccount.Kind.SIMULATED:
        from .gateway import host_call

        try:
            host_call(account.host, "terminals.tasks.instance_action", account.pk, action)
        except TerminalError as error:
            raise AccountError(f"The host could not {action} the terminal: {error.message}", status=409) from None
    if action == "stop":
        account_set_status(account=account, status=Status.STOPPED, reason="Stopped by its owner.")
        return account
    account_set_status(account=account, status=Status.CONNECTING, reason=f"{action.title()}ed by its owner.")
    if account.kind == TradingAccount.Kind.SIMULATED:
        from .gateway import simulated_driver

        driver = simulated_driver(account)
        try:
            account_heartbeat(account=account, info=driver.account_info())
        finally:
            driver.shutdown()
    return account


def symbol_mapping_add(*, account: TradingAccount, requested: str, broker_symbol: str):
    """A custom mapping, checked against the symbols the account's terminal offers (when it
    can answer; otherwise the first order that uses the mapping checks it)."""
    from .gateway import terminal_read
    from .symbols import SymbolError, symbol_mapping_set

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


def accounts_assign_waiting(*, host: TerminalHost) -> list[TradingAccount]:
    """Give a host with room the unassigned accounts of the kinds it runs, oldest first;
    the host agent connects them on its next round."""
    kinds = (
        [TradingAccount.Kind.SIMULATED]
        if host.kind == TerminalHost.Kind.SIMULATED
        else [TradingAccount.Kind.MT5, TradingAccount.Kind.EA_BRIDGE]
    )
    room = host.capacity - host.accounts.filter(deleted_at__isnull=True).count()
    waiting = list(
        TradingAccount.objects.alive()
        .filter(status=Status.UNASSIGNED, host__isnull=True, kind__in=kinds)
        .order_by("created_at")[: max(room, 0)]
    )
    for account in waiting:
        account_update(account=account, host=host)
        account_set_status(account=account, status=Status.CONNECTING, reason=f"Assigned to {host.name}.")
    return waiting


def account_move_refusal(*, account: TradingAccount, host: TerminalHost | None) -> str | None:
    """Why the account cannot go to this host (wrong kind, no room), or None."""
    if host is None:
        return None
    kind = TerminalHost.Kind.SIMULATED if account.kind == TradingAccount.Kind.SIMULATED else TerminalHost.Kind.WINDOWS
    if host.kind != kind:
        return f"A {account.kind} account needs a {kind} host."
    load = host.accounts.filter(deleted_at__isnull=True).exclude(pk=account.pk).count()
    if load >= host.capacity:
        return f"{host.name} is at its capacity of {host.capacity}."
    return None


def account_move(*, account: TradingAccount, host: TerminalHost | None) -> TradingAccount:
    """Operators move an account: its terminal stops on the old host (best effort: that
    host may be the reason for the move) and the new host's agent connects it."""
    if refusal := account_move_refusal(account=account, host=host):
        raise AccountError(refusal, field="host")
    if account.host is not None and account.host != host:
        _instance_stop(account)
    account_update(account=account, host=host)
    status = Status.CONNECTING if host is not None else Status.UNASSIGNED
    account_set_status(account=account, status=status, reason=f"Moved to {host.name}." if host else "No host.")
    return account
