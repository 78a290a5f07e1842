"""Equity points: each account's balance and equity from the host agent's heartbeats, one a
minute, thinned to one an hour after a week and dropped after JOURNAL_EQUITY_RETENTION_DAYS.

Space per account: a week of minutes (7 days of 1,440 = 10,080 rows) plus one row an hour for the
rest of the retention (358 days of 24: 8,592 with the default 365 days): about 18,700 rows, then
no more. With retention 0 (keep forever) it grows by 8,760 rows a year."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Value
from django.db.models.functions import TruncHour
from django.utils import timezone

from terminals.drivers.base import AccountInfo
from terminals.models import TradingAccount

from .models import EquityPoint

Step = EquityPoint.Step
CENT = Decimal("0.01")
MINUTES_KEPT = timedelta(days=7)  # then one point an hour
HOUR = timedelta(hours=1)


def _money(value: float) -> Decimal:
    # As the heartbeat stores the account's figures: the terminal's float, to the cent.
    return Decimal(str(value)).quantize(CENT)


def minute_of(moment: datetime) -> datetime:
    """The minute a heartbeat falls in: every reading within it shares one point."""
    return moment.replace(second=0, microsecond=0)


def equity_record(*, readings: list[tuple[TradingAccount, AccountInfo]], at: datetime | None = None) -> int:
    """One point per account for the minute of `at` (now), in one statement for all of them.
    The minute's first reading is kept: a later heartbeat of the same minute is skipped by
    the (account, at) constraint, which costs no query to find out and no row rewritten every
    round. Returns how many readings were offered."""
    minute = minute_of(at or timezone.now())
    points = [
        EquityPoint(
            owner_id=account.owner_id,
            account_id=account.pk,
            at=minute,
            step=Step.MINUTE,
            balance=_money(info.balance),
            equity=_money(info.equity),
            currency=info.currency[:10],
        )
        for account, info in readings
    ]
    EquityPoint.objects.bulk_create(points, ignore_conflicts=True)
    return len(points)


def heartbeat_recorded(sender, *, readings: list[tuple[TradingAccount, AccountInfo]], **kwargs) -> None:
    """terminals.signals.accounts_heartbeat_recorded: the chunk's points."""
    equity_record(readings=readings)


def equity_thin(*, now: datetime | None = None) -> int:
    """Minute points older than a week become one an hour (the hour's last, step HOUR); returns
    how many minute points were removed. Only whole hours are thinned (the cut is on the hour),
    so running it again, or late, gives the same points."""
    cut = (now or timezone.now()) - MINUTES_KEPT
    cut = cut.replace(minute=0, second=0, microsecond=0)
    old = EquityPoint.objects.filter(step=Step.MINUTE, at__lt=cut)
    # Index (account, at): each point looks at most an hour of its own account ahead.
    hour_end = ExpressionWrapper(TruncHour("at", tzinfo=UTC) + Value(HOUR), output_field=DateTimeField())
    later = EquityPoint.objects.filter(account=OuterRef("account"), at__gt=OuterRef("at"), at__lt=OuterRef("hour_end"))
    with transaction.atomic():  # both or neither: a half-done run would keep two points in an hour
        lasts = old.annotate(hour_end=hour_end).filter(~Exists(later)).values("pk")
        EquityPoint.objects.filter(pk__in=lasts).update(step=Step.HOUR)
        removed, _ = old.delete()
    return removed


def equity_expire(*, now: datetime | None = None) -> int:
    """Points older than JOURNAL_EQUITY_RETENTION_DAYS removed (0: kept forever); returns how many."""
    days = settings.JOURNAL_EQUITY_RETENTION_DAYS
    if days <= 0:
        return 0
    removed, _ = EquityPoint.objects.filter(at__lt=(now or timezone.now()) - timedelta(days=days)).delete()
    return removed


def equity_prune(*, now: datetime | None = None) -> dict[str, int]:
    """The scheduled upkeep (hourly, and `manage.py journal_equity_prune`): thin, then expire."""
    now = now or timezone.now()
    return {"thinned": equity_thin(now=now), "expired": equity_expire(now=now)}
