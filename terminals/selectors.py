"""Reads of the terminals app."""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import TerminalHost, TradingAccount


def account_list(*, user) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.owned_by(user).alive().select_related("host").order_by("pk")


def account_current(*, user) -> TradingAccount | None:
    """The caller's current account, else their first live one."""
    accounts = account_list(user=user)
    return accounts.filter(is_current=True).first() or accounts.first()


def host_list() -> QuerySet[TerminalHost]:
    return TerminalHost.objects.with_load().order_by("name")


def admin_stats() -> dict[str, int]:
    figures = TradingAccount.objects.filter(deleted_at__isnull=True).aggregate(
        accounts=Count("pk"),
        accounts_online=Count("pk", filter=Q(status=TradingAccount.Status.ONLINE)),
    )
    figures["accounts_offline"] = figures["accounts"] - figures["accounts_online"]
    recent = timezone.now() - timedelta(minutes=5)
    figures["hosts_online"] = TerminalHost.objects.filter(online=True).count()
    figures["hosts_heartbeat_5m"] = TerminalHost.objects.filter(heartbeat_at__gte=recent).count()
    return figures
