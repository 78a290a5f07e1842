"""Journal statistics: figures over closed trades and money movements, in Decimal, one set per
account currency (amounts in different currencies are never added).

SIGNATURES ONLY: being written; the bodies raise until then."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet

from .models import Deal, EquityPoint, Trade


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


@dataclass
class Day:
    day: date
    currency: str
    trades: int
    net_profit: Decimal


def figures(trades: QuerySet[Trade], money: QuerySet[Deal]) -> list[Figures]:
    """The statistics of these closed trades, one Figures per currency (sorted by currency).
    `money`: the same accounts' money movements (kind balance, credit, bonus, …) over the same
    range, for the time-weighted gain and the drawdown's percent."""
    raise NotImplementedError


BREAKDOWNS = ("symbol", "strategy", "copy_pair", "weekday", "hour")


def breakdown(trades: QuerySet[Trade], by: str) -> list[Group]:
    """Closed trades grouped by one of BREAKDOWNS (weekday and hour of the close time, in the
    current time zone), per currency."""
    raise NotImplementedError


def calendar(trades: QuerySet[Trade]) -> list[Day]:
    """Net P&L of closed trades per close day (current time zone) and currency, oldest first."""
    raise NotImplementedError


@dataclass
class Point:
    at: datetime
    balance: Decimal
    equity: Decimal


def equity_curve(points: QuerySet[EquityPoint], *, since: datetime | None, until: datetime | None) -> list[Point]:
    """An account's balance and equity over time, at most a few thousand points whatever the range."""
    raise NotImplementedError
