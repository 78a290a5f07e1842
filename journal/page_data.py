"""What the Journal page shows besides its tables: statistics with breakdowns, the P&L calendar as
month grids, and the balance/equity curves as chart data (each account, and all accounts summed
per currency: amounts in different currencies are never added)."""

import calendar as month_calendar
import heapq
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from copytrading.selectors import pair_list
from terminals.selectors import account_list

from . import stats
from .models import Deal, EquityPoint, Trade
from .selectors import JournalFilter, deals

# The newest months of the calendar shown; older ones are a date-range filter away.
CALENDAR_MONTHS = 6
# One chart: beyond this many accounts the lines are unreadable (filter by account instead).
CHART_ACCOUNTS = 12
CHART_POINTS = 2000  # per summed line
BREAKDOWN_TITLES = {
    "symbol": "Symbol",
    "strategy": "Strategy",
    "copy_pair": "Copy pair",
    "weekday": "Weekday",
    "hour": "Hour",
}


def money_movements(*, user, filters: JournalFilter) -> QuerySet[Deal]:
    """Deposits, withdrawals, credit… of the chosen accounts and range: what a trade filter
    (symbol, side, source, strategy, pair) chooses does not apply to them."""
    every_deal = replace(filters, symbol="", side="", source="", strategy="", copy_pair=None)
    return deals(user=user, filters=every_deal).exclude(kind__in=(Deal.Kind.BUY, Deal.Kind.SELL))


def trade_totals(trades: QuerySet[Trade]) -> list[dict]:
    """The table's totals, one row per currency."""
    return list(
        trades.order_by()
        .values("currency")
        .annotate(
            trades=Count("pk"),
            volume=Sum("volume"),
            commission=Sum("commission"),
            swap=Sum("swap"),
            fee=Sum("fee"),
            profit=Sum("profit"),
        )
        .order_by("currency")
    )


def breakdowns(trades: QuerySet[Trade], *, user) -> list[tuple[str, list[stats.Group]]]:
    """Each breakdown with its rows, copy pairs named as the trader knows them."""
    pairs = {
        str(pair.pk): f"{pair.master} → {pair.slave}" for pair in pair_list(user=user).select_related("master", "slave")
    }
    tables = []
    for by in stats.BREAKDOWNS:
        rows = stats.breakdown(trades, by)
        if by == "copy_pair":
            rows = [replace(row, key=pairs.get(row.key, row.key)) for row in rows]
        tables.append((BREAKDOWN_TITLES.get(by, by), rows))
    return tables


@dataclass
class CalendarDay:
    day: date | None  # None: a day of the next or previous month, shown blank
    results: list[stats.Day] = field(default_factory=list)

    @property
    def tone(self) -> str:
        """win or loss when every currency of the day agrees; "" otherwise."""
        if not self.results:
            return ""
        if all(result.net_profit > 0 for result in self.results):
            return "win"
        if all(result.net_profit < 0 for result in self.results):
            return "loss"
        return "even"


@dataclass
class CalendarMonth:
    first: date
    weeks: list[list[CalendarDay]]
    totals: dict[str, Decimal]


def calendar_months(trades: QuerySet[Trade]) -> list[CalendarMonth]:
    """The newest months with closed trades, newest first, as Monday-first week rows."""
    by_day: dict[date, list[stats.Day]] = {}
    for result in stats.calendar(trades):
        by_day.setdefault(result.day, []).append(result)
    firsts = sorted({day.replace(day=1) for day in by_day}, reverse=True)[:CALENDAR_MONTHS]
    months = []
    for first in firsts:
        weeks = [
            [CalendarDay(day, by_day.get(day, [])) if day.month == first.month else CalendarDay(None) for day in week]
            for week in month_calendar.Calendar().monthdatescalendar(first.year, first.month)
        ]
        totals: dict[str, Decimal] = {}
        for week in weeks:
            for cell in week:
                for result in cell.results:
                    totals[result.currency] = totals.get(result.currency, Decimal("0")) + result.net_profit
        months.append(CalendarMonth(first, weeks, dict(sorted(totals.items()))))
    return months


def _curve(account_id: int, *, user, filters: JournalFilter) -> list[stats.Point]:
    points = EquityPoint.objects.owned_by(user).filter(account_id=account_id)
    return stats.equity_curve(points, since=filters.since, until=filters.until)


def _summed(curves: list[list[stats.Point]]) -> list[stats.Point]:
    """All accounts' curves as one: at each moment, the sum of every account's latest point."""
    latest: dict[int, stats.Point] = {}
    summed: list[stats.Point] = []
    merged = heapq.merge(*[[(p.at, i, p) for p in curve] for i, curve in enumerate(curves)], key=lambda x: x[:2])
    for at, index, point in merged:
        latest[index] = point
        total = stats.Point(
            at,
            sum((p.balance for p in latest.values()), Decimal("0")),
            sum((p.equity for p in latest.values()), Decimal("0")),
        )
        if summed and summed[-1].at == at:
            summed[-1] = total
        else:
            summed.append(total)
    # Thinned to a chart's worth of points; the latest always kept.
    thinned = summed[:: max(1, -(-len(summed) // CHART_POINTS))]
    if summed and thinned[-1] is not summed[-1]:
        thinned.append(summed[-1])
    return thinned


def _series(label: str, currency: str, curve: list[stats.Point]) -> dict:
    return {
        "label": label,
        "currency": currency,
        "points": [[point.at.isoformat(), str(point.balance), str(point.equity)] for point in curve],
    }


def chart_data(*, user, filters: JournalFilter) -> dict:
    """The curves for the page's json_script: each chosen account, then all of them per currency."""
    accounts = account_list(user=user).order_by("pk")
    if filters.account is not None:
        accounts = accounts.filter(pk=filters.account)
    accounts = list(accounts[:CHART_ACCOUNTS])
    lines, by_currency = [], {}
    for account in accounts:
        curve = _curve(account.pk, user=user, filters=filters)
        if curve:
            lines.append(_series(account.nickname or account.login, account.currency, curve))
            by_currency.setdefault(account.currency, []).append(curve)
    totals = [
        _series(f"All accounts ({currency or '?'})", currency, _summed(curves))
        for currency, curves in sorted(by_currency.items())
        if len(curves) > 1
    ]
    return {"accounts": lines, "totals": totals}


def filter_choices(*, user) -> dict:
    """The form's choices: the trader's own accounts and pairs, strategies and symbols seen."""
    trades = Trade.objects.owned_by(user).order_by()
    return {
        "accounts": account_list(user=user).order_by("pk"),
        "pairs": pair_list(user=user).select_related("master", "slave"),
        "strategies": trades.exclude(strategy="").values_list("strategy", flat=True).distinct()[:200],
        "symbols": trades.values_list("symbol", flat=True).distinct()[:200],
    }
