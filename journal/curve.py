"""The balance curve of one currency walked once in close-time order: drawdown, time-weighted
gain and daily returns. Money movements move the balance but are never profit or loss, so the
walk keeps them apart from trading results (definitions in docs/journal.md, "Statistics").

Balances are whole cents (ints: exact, and cheap over 100,000 trades); the growth factors, made
once per day or movement, are Decimal."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.utils import timezone

ZERO = Decimal("0")
ONE = Decimal("1")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


@dataclass
class Curve:
    """What the walk found; `gain` is a growth factor (1.10 = +10 %), None when a sub-period
    with a result started at a balance of zero or less."""

    max_drawdown: Decimal = ZERO
    max_drawdown_pct: Decimal | None = None
    gain: Decimal | None = ONE
    daily_returns: list[Decimal] = field(default_factory=list)  # fractions, one per day with trades


class _Periods:
    """The time-weighted part: sub-periods between money movements, split at day ends."""

    def __init__(self, curve: Curve, opening: int) -> None:
        self.curve = curve
        self.start = opening  # the balance when the current sub-period began, cents
        self.day_growth: Decimal | None = None  # None before the first day, or unknown

    def close(self, balance: int) -> None:
        pnl, start = balance - self.start, self.start
        self.start = balance
        if not pnl:
            return
        if start <= 0:
            # A result on no money is no rate of return: the gain and this day's return are unknown.
            self.curve.gain = self.day_growth = None
            return
        factor = 1 + Decimal(pnl) / Decimal(start)
        if self.curve.gain is not None:
            self.curve.gain *= factor
        if self.day_growth is not None:
            self.day_growth *= factor

    def close_day(self, balance: int, *, first: bool = False) -> None:
        self.close(balance)
        if not first and self.day_growth is not None:
            self.curve.daily_returns.append(self.day_growth - 1)
        self.day_growth = ONE


def walk(trades: Iterable[tuple], money: list[tuple], *, opening: int, zone: tzinfo | None = None) -> Curve:
    """`trades`: (close stamp, net profit in cents) oldest first; `money`: (stamp, cents)
    oldest first; stamps in microseconds since the epoch (journal.closed.Stamp); a movement at
    the same instant as a trade comes first. Days are `zone`'s (UTC when None)."""
    curve = Curve()
    periods = _Periods(curve, opening)
    balance = peak = opening
    # The peak balance is shifted by each money movement: a deposit makes no new peak and a
    # withdrawal no drawdown, so peak - balance moves with trading results only.
    worst, worst_pct = 0, None  # the largest drawdown, and the (drawdown, peak) of the largest ratio
    moves = iter(money)
    move = next(moves, None)
    day_end: int | None = None
    for at, profit in trades:
        while move is not None and move[0] <= at:
            periods.close(balance)
            balance += move[1]
            peak += move[1]
            periods.start = balance
            move = next(moves, None)
        if day_end is None or at >= day_end:
            periods.close_day(balance, first=day_end is None)
            day_end = _next_midnight(at, zone)
        balance += profit
        if balance >= peak:
            peak = balance
            if worst_pct is None and peak > 0:
                worst_pct = (0, peak)
            continue
        drawdown = peak - balance
        if drawdown > worst:
            worst = drawdown
        # Against no money a fall has no percent; ratios compared by cross-multiplying.
        if peak > 0 and (worst_pct is None or drawdown * worst_pct[1] > worst_pct[0] * peak):
            worst_pct = (drawdown, peak)
    if day_end is not None:
        periods.close_day(balance)  # movements after the last trade change none of the figures
    curve.max_drawdown = Decimal(worst) / 100
    if worst_pct is not None:
        curve.max_drawdown_pct = Decimal(worst_pct[0]) / Decimal(worst_pct[1]) * 100
    return curve


def _next_midnight(at: int, zone: tzinfo | None) -> int:
    """The start of the day after `at`'s, both in microseconds since the epoch (journal.closed.Stamp)."""
    if zone is None:
        return (at // DAY_US + 1) * DAY_US
    local = (EPOCH + timedelta(microseconds=at)).astimezone(zone)
    midnight = timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time.min), zone)
    return (midnight - EPOCH) // timedelta(microseconds=1)
