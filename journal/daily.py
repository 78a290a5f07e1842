"""The realised result of a period (the daily summary's day): per account, in its currency."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.utils import timezone

from .models import Deal, Trade

TRADING = [Deal.Kind.BUY, Deal.Kind.SELL]  # balance operations are never profit


@dataclass(frozen=True)
class AccountResult:
    account: int
    login: str
    currency: str
    profit: Decimal  # realised: the period's trading deals, net of commission, swap and fee
    trades: int  # trades whose last volume was closed in the period


def period_result(*, user, since: datetime, until: datetime) -> list[AccountResult]:
    """The user's realised P&L per account over [since, until), from the deals of the period
    (a partial close counts the day it happens); accounts with no trading deal are left out."""
    deals = (
        Deal.objects.owned_by(user)
        .filter(kind__in=TRADING, time__gte=since, time__lt=until)
        .values("account", "account__login", "currency")
        .annotate(net=Sum(F("profit") + F("commission") + F("swap") + F("fee")))
        .order_by("account__login", "currency")
    )
    closed = dict(
        Trade.objects.owned_by(user)
        .filter(status=Trade.Status.CLOSED, close_time__gte=since, close_time__lt=until)
        .values("account")
        .annotate(n=Count("pk"))
        .values_list("account", "n")
    )
    return [
        AccountResult(
            account=row["account"],
            login=row["account__login"],
            currency=row["currency"],
            profit=(row["net"] or Decimal("0")).quantize(Decimal("0.01")),
            trades=closed.get(row["account"], 0),
        )
        for row in deals
    ]


def day_result(*, user, day: date) -> list[AccountResult]:
    """period_result over one calendar day in the active time zone."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return period_result(user=user, since=start, until=start + timedelta(days=1))


def totals_by_currency(results: list[AccountResult]) -> dict[str, Decimal]:
    """Sums per currency: amounts in different currencies are never added."""
    totals: dict[str, Decimal] = {}
    for result in results:
        totals[result.currency] = totals.get(result.currency, Decimal("0")) + result.profit
    return totals
