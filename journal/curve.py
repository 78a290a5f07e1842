"""The balance curve of one currency walked once in close-time order: drawdown, time-weighted
gain and daily returns. Money movements move the balance but are never profit or loss, so the
walk keeps them apart from trading results (definitions in docs/journal.md, "Statistics")."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

ZERO = Decimal("0")
ONE = Decimal("1")


@dataclass
class Curve:
    """What the walk found; `gain` is a growth factor (1.10 = +10 %), None when a sub-period
    with a result started at a balance of zero or less."""

    max_drawdown: Decimal = ZERO
    max_drawdown_pct: Decimal | None = None
    gain: Decimal | None = ONE
    daily_returns: list[Decimal] = field(default_factory=list)  # fractions, one per day with trades


class _Walk:
    def __init__(self, opening: Decimal) -> None:
        self.curve = Curve()
        self.balance = opening
        # The peak balance, shifted by each money movement since: a deposit makes no new peak
        # and a withdrawal no drawdown, so peak - balance moves with trading results only.
        self.peak = opening
        self.period_start = opening  # the balance when the current sub-period began
        self.period_pnl = ZERO
        self.day_growth: Decimal | None = ONE
        self.day: date | None = None

    def money(self, amount: Decimal) -> None:
        self._close_period()
        self.balance += amount
        self.peak += amount
        self.period_start = self.balance

    def trade(self, profit: Decimal) -> None:
        self.balance += profit
        self.period_pnl += profit
        self.peak = max(self.peak, self.balance)
        drawdown = self.peak - self.balance
        self.curve.max_drawdown = max(self.curve.max_drawdown, drawdown)
        if self.peak > 0:  # against no money a fall has no percent
            pct = drawdown / self.peak * 100
            if self.curve.max_drawdown_pct is None or pct > self.curve.max_drawdown_pct:
                self.curve.max_drawdown_pct = pct

    def new_day(self, day: date) -> None:
        self.close_day()
        self.day, self.day_growth = day, ONE

    def close_day(self) -> None:
        self._close_period()
        if self.day is not None and self.day_growth is not None:
            self.curve.daily_returns.append(self.day_growth - 1)
        self.day = None
        self.period_start = self.balance

    def _close_period(self) -> None:
        pnl, start = self.period_pnl, self.period_start
        self.period_pnl = ZERO
        if not pnl:
            return
        if start <= 0:
            # A result on no money is no rate of return: the gain and this day's return are unknown.
            self.curve.gain = self.day_growth = None
            return
        factor = 1 + pnl / start
        if self.curve.gain is not None:
            self.curve.gain *= factor
        if self.day_growth is not None:
            self.day_growth *= factor


def walk(
    trades: Iterable[tuple[datetime, Decimal]], money: list[tuple[datetime, Decimal]], *, opening: Decimal
) -> Curve:
    """`trades`: (close time, net profit) oldest first; `money`: (time, amount) oldest first; a
    movement at the same instant as a trade comes first. Days are the current time zone's."""
    state = _Walk(opening)
    moves = iter(money)
    move = next(moves, None)
    day_end: datetime | None = None
    for at, profit in trades:
        while move is not None and move[0] <= at:
            state.money(move[1])
            move = next(moves, None)
        if day_end is None or at >= day_end:
            day = timezone.localtime(at).date()
            state.new_day(day)
            day_end = _local_midnight(day + timedelta(days=1))
        state.trade(profit)
    state.close_day()  # movements after the last trade change none of the figures
    return state.curve


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
