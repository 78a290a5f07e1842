"""Hosts and which accounts they serve: registering a host, picking the one with room for a new
account, giving waiting accounts to a host that came up, moving accounts, and taking hosts that
stopped answering offline with their accounts."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .account_lifecycle import account_update, instance_stop
from .account_status import account_set_status
from .errors import AccountError
from .models import TerminalHost, TradingAccount

Status = TradingAccount.Status


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
        instance_stop(account)
    account_update(account=account, host=host)
    status = Status.CONNECTING if host is not None else Status.UNASSIGNED
    account_set_status(account=account, status=status, reason=f"Moved to {host.name}." if host else "No host.")
    return account
