"""Journal statistics: figures over closed trades and money movements, in Decimal, one set per
account currency (amounts in different currencies are never added). Each figure is defined in
docs/journal.md, "Statistics"; the figures come from one ordered read of the closed trades
(journal/closed.py) summed in whole cents, walking the curve in the same pass."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from . import closed
from .curve import Curve, walk
from .models import Deal, EquityPoint, Trade

ZERO = Decimal("0")
CENT = Decimal("0.01")
FINE = Decimal("0.0001")  # percentages, ratios and trades per day
DAYS_PER_MONTH = Decimal("365.25") / 12
# Every deal that moves money without being a trade: deposits, withdrawals, credit, bonuses,
# charges, corrections. Callers pass these kinds as `money`.
MONEY_KINDS = tuple(k for k in Deal.Kind.values if k not in {Deal.Kind.BUY, Deal.Kind.SELL, Deal.Kind.CANCELED})


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fine(value: Decimal) -> Decimal:
    return value.quantize(FINE, rounding=ROUND_HALF_UP)


def gain(growth: Decimal | None, periods: Decimal | int | None) -> Decimal | None:
    """The compounded gain per period, in percent, of a growth factor over `periods` periods:
    (growth ** (1 / periods) - 1) * 100. None when either is unknown or the balance was wiped out."""
    if growth is None or not periods or growth < 0:
        return None
    return fine((growth ** (1 / Decimal(periods)) - 1) * 100)


@dataclass
class Side:
    trades: int
    wins: int
    net_profit: Decimal


@dataclass
class Figures:
    """The statistics of one currency's trades (the API's Stats, field for field)."""

    currency: str
    trades: int
    wins: int
    losses: int
    net_profit: Decimal
    gross_profit: Decimal
    gross_loss: Decimal  # negative or zero
    commission: Decimal
    swap: Decimal
    win_rate: Decimal | None  # percent, None without trades
    profit_factor: Decimal | None  # None without losses
    expectancy: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    max_drawdown: Decimal  # money, positive
    max_drawdown_pct: Decimal | None
    trades_per_day: Decimal | None
    gain_pct: Decimal | None  # time-weighted across deposits and withdrawals
    daily_gain_pct: Decimal | None
    monthly_gain_pct: Decimal | None
    sharpe_ratio: Decimal | None  # over daily returns
    sortino_ratio: Decimal | None
    deposits: Decimal
    withdrawals: Decimal
    long: Side = field(default_factory=lambda: Side(0, 0, Decimal("0")))
    short: Side = field(default_factory=lambda: Side(0, 0, Decimal("0")))


@dataclass
class Group:
    """One row of a breakdown: trades grouped by a key, per currency."""

    key: str
    currency: str
    trades: int
    wins: int
    net_profit: Decimal
    losses: int = 0


@dataclass
class Day:
    day: date
    currency: str
    trades: int
    net_profit: Decimal


def figures(
    trades: QuerySet[Trade],
    money: QuerySet[Deal],
    *,
    opening: Mapping[str, Decimal] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Figures]:
    """The statistics of these closed trades, one Figures per currency (sorted by currency).
    `money`: the same accounts' money movements (kinds in MONEY_KINDS) over the same range, for
    the time-weighted gain and the drawdown's percent. `opening`: each currency's balance when
    the range begins (`opening_balances`); zero if absent. `since`/`until` (until exclusive):
    the range the sets were filtered on, for the per-day figures; without them the days run
    from the first to the last close. figures_between() does the filtering and the opening."""
    opening = opening or {}
    per_currency = closed.closed_trades(trades)
    sums = closed.cost_sums(trades) if per_currency else {}
    movements = closed.movements(money)
    zone = closed.local_zone()
    result = []
    for currency in sorted(per_currency.keys() | movements.keys()):
        moves = movements.get(currency, [])
        columns = per_currency.get(currency)
        row = _totals(columns, sums[currency]) if columns else {"trades": 0, "first": None, "last": None}
        trades_in_order = zip(columns.stamps, columns.profits, strict=True) if columns else ()
        curve = walk(trades_in_order, moves, opening=_in_cents(opening.get(currency, ZERO)), zone=zone)
        days = _span_days(row["first"], row["last"], since=since, until=until)
        result.append(_figures(currency, row, curve, [amount for _at, amount in moves], days))
    return result


def figures_between(
    trades: QuerySet[Trade], money: QuerySet[Deal], *, since: datetime | None, until: datetime | None
) -> list[Figures]:
    """figures() over [since, until) of sets not filtered by time (an account's whole history,
    or a trader's), the balance before `since` taken as each currency's opening balance."""
    opening = opening_balances(trades, money, before=since) if since else {}
    if since:
        trades, money = trades.filter(close_time__gte=since), money.filter(time__gte=since)
    if until:
        trades, money = trades.filter(close_time__lt=until), money.filter(time__lt=until)
    return figures(trades, money, opening=opening, since=since, until=until)


def opening_balances(trades: QuerySet[Trade], money: QuerySet[Deal], *, before: datetime) -> dict[str, Decimal]:
    """Each currency's balance at `before`: every closed trade's net profit and every money
    movement before it (the sets are the accounts' whole history)."""
    balances: dict[str, Decimal] = {}
    earlier = (
        trades.filter(status=Trade.Status.CLOSED, close_time__lt=before).order_by().values("currency"),
        money.filter(time__lt=before).order_by().values("currency"),
    )
    for rows in earlier:
        for row in rows.annotate(total=Sum("profit")):
            balances[row["currency"]] = balances.get(row["currency"], ZERO) + row["total"]
    return balances


_WIN, _LOSS = Q(profit__gt=0), Q(profit__lt=0)


def _totals(columns: closed.Columns, sums: dict) -> dict:
    """The sums and counts of one currency's trades, summed in cents (exact); Decimal at the end.
    `sums`: the database's (closed.cost_sums) commission and swap."""
    profits, sides = columns.profits, columns.sides
    wins = [p for p in profits if p > 0]
    losses = [p for p in profits if p < 0]
    long = [p for p, side in zip(profits, sides, strict=True) if side == "buy"]
    short = [p for p, side in zip(profits, sides, strict=True) if side == "sell"]
    return {
        "trades": len(profits),
        "wins": len(wins),
        "losses": len(losses),
        "net_profit": _money(sum(profits)),
        "gross_profit": _money(sum(wins)),
        "gross_loss": _money(sum(losses)),
        "commission": sums["commission"] or ZERO,
        "swap": sums["swap"] or ZERO,
        "largest_win": _money(max(wins)) if wins else None,
        "largest_loss": _money(min(losses)) if losses else None,
        "first": closed.aware(columns.stamps[0]),
        "last": closed.aware(columns.stamps[-1]),
        "long_trades": len(long),
        "long_wins": sum(1 for p in long if p > 0),
        "long_net": _money(sum(long)),
        "short_trades": len(short),
        "short_wins": sum(1 for p in short if p > 0),
        "short_net": _money(sum(short)),
    }


def _money(in_cents: int) -> Decimal:
    return Decimal(in_cents) / 100


def _in_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _span_days(
    first: datetime | None, last: datetime | None, *, since: datetime | None, until: datetime | None
) -> int | None:
    """Calendar days (current time zone) from the range's start, or the first close, to its
    end, or the last close, both counted."""
    start = since or first
    end = (until - timedelta(microseconds=1)) if until else last
    if start is None or end is None or end < start:
        return None
    return (timezone.localdate(end) - timezone.localdate(start)).days + 1


def _figures(currency: str, row: dict, curve: Curve, moves: list[int], days: int | None) -> Figures:
    n, zero = row["trades"], ZERO
    wins, losses = row.get("wins", 0), row.get("losses", 0)
    gross_profit, gross_loss = row.get("gross_profit") or zero, row.get("gross_loss") or zero
    net = row.get("net_profit") or zero
    sharpe, sortino = _sharpe_sortino(curve.daily_returns)
    return Figures(
        currency=currency,
        trades=n,
        wins=wins,
        losses=losses,
        net_profit=cents(net),
        gross_profit=cents(gross_profit),
        gross_loss=cents(gross_loss),
        commission=cents(row.get("commission") or zero),
        swap=cents(row.get("swap") or zero),
        win_rate=fine(Decimal(wins) / n * 100) if n else None,
        profit_factor=fine(gross_profit / -gross_loss) if gross_loss else None,
        expectancy=cents(net / n) if n else None,
        average_win=cents(gross_profit / wins) if wins else None,
        average_loss=cents(gross_loss / losses) if losses else None,
        largest_win=_cents_or_none(row.get("largest_win")),
        largest_loss=_cents_or_none(row.get("largest_loss")),
        max_drawdown=cents(curve.max_drawdown),
        max_drawdown_pct=fine(curve.max_drawdown_pct) if curve.max_drawdown_pct is not None else None,
        trades_per_day=fine(Decimal(n) / days) if days else None,
        gain_pct=fine((curve.gain - 1) * 100) if curve.gain is not None else None,
        daily_gain_pct=gain(curve.gain, days),
        monthly_gain_pct=gain(curve.gain, Decimal(days) / DAYS_PER_MONTH if days else None),
        sharpe_ratio=sharpe,
        sortino_ratio=sortino,
        deposits=cents(_money(sum(m for m in moves if m > 0))),
        withdrawals=cents(_money(sum(m for m in moves if m < 0))),
        long=Side(row.get("long_trades", 0), row.get("long_wins", 0), cents(row.get("long_net") or zero)),
        short=Side(row.get("short_trades", 0), row.get("short_wins", 0), cents(row.get("short_net") or zero)),
    )


def _cents_or_none(value: Decimal | None) -> Decimal | None:
    return cents(value) if value is not None else None


def _sharpe_sortino(returns: list[Decimal]) -> tuple[Decimal | None, Decimal | None]:
    """Per day, not annualised: mean / sample standard deviation, and mean / downside deviation
    (root mean square of the negative returns over all days, target 0)."""
    if len(returns) < 2:
        return None, None
    # In Decimal arithmetic: the statistics module's exact fractions cost seconds over a year of days.
    mean = sum(returns, ZERO) / len(returns)
    deviation = (sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)).sqrt()
    downside = (sum(min(r, ZERO) ** 2 for r in returns) / len(returns)).sqrt()
    return (fine(mean / deviation) if deviation else None, fine(mean / downside) if downside else None)


BREAKDOWNS = ("symbol", "strategy", "copy_pair", "weekday", "hour")
_KEYS = {
    "symbol": lambda: F("symbol"),
    "strategy": lambda: F("strategy"),
    "copy_pair": lambda: F("copy_pair_id"),
    "weekday": lambda: closed.IsoWeekDay("close_time"),  # 1 Monday … 7 Sunday
    "hour": lambda: closed.Hour("close_time"),
}


def breakdown(trades: QuerySet[Trade], by: str) -> list[Group]:
    """Closed trades grouped by one of BREAKDOWNS (weekday and hour of the close time, in the
    current time zone), per currency. Keys are text: "" for no strategy or no copy pair, the
    ISO weekday ("1" Monday … "7" Sunday), the hour ("0" … "23"); sorted by key, then currency.
    ValueError for another `by`."""
    if by not in _KEYS:
        raise ValueError(f"no breakdown by {by!r}; one of {', '.join(BREAKDOWNS)}")
    rows = (
        trades.filter(status=Trade.Status.CLOSED)
        .order_by()
        .values("currency", key=_KEYS[by]())
        .annotate(n=Count("pk"), wins=Count("pk", filter=_WIN), losses=Count("pk", filter=_LOSS), net=Sum("profit"))
        .order_by("key", "currency")
    )
    return [
        Group(
            key="" if row["key"] is None else str(row["key"]),
            currency=row["currency"],
            trades=row["n"],
            wins=row["wins"],
            losses=row["losses"],
            net_profit=cents(row["net"]),
        )
        for row in rows
    ]


def calendar(trades: QuerySet[Trade]) -> list[Day]:
    """Net P&L of closed trades per close day (current time zone) and currency, oldest first."""
    rows = (
        trades.filter(status=Trade.Status.CLOSED)
        .order_by()
        .values("currency", day=closed.Date("close_time"))
        .annotate(n=Count("pk"), net=Sum("profit"))
        .order_by("day", "currency")
    )
    return [
        Day(day=row["day"], currency=row["currency"], trades=row["n"], net_profit=cents(row["net"])) for row in rows
    ]


@dataclass
class Point:
    at: datetime
    balance: Decimal
    equity: Decimal


MAX_POINTS = 2000


def equity_curve(points: QuerySet[EquityPoint], *, since: datetime | None, until: datetime | None) -> list[Point]:
    """An account's balance and equity over [since, until), oldest first, at most MAX_POINTS
    points whatever the range: beyond that, each of MAX_POINTS / 2 time-ordered buckets keeps
    its lowest and its highest equity (so no drawdown disappears), and the first and last
    points are always kept."""
    if since:
        points = points.filter(at__gte=since)
    if until:
        points = points.filter(at__lt=until)
    rows = [
        Point(at, balance, equity)
        for at, balance, equity in points.order_by("at").values_list("at", "balance", "equity")
    ]
    if len(rows) <= MAX_POINTS:
        return rows
    first, last, inner = rows[0], rows[-1], rows[1:-1]
    buckets = (MAX_POINTS - 2) // 2
    size = len(inner) / buckets
    kept = [first]
    for b in range(buckets):
        bucket = inner[int(b * size) : int((b + 1) * size)]
        if bucket:
            low = min(bucket, key=lambda p: p.equity)
            high = max(bucket, key=lambda p: p.equity)
            kept.extend(sorted({id(low): low, id(high): high}.values(), key=lambda p: p.at))
    kept.append(last)
    return kept
