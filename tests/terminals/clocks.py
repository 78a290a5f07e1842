"""A broker clock the tests set by hand (epoch milliseconds), so market hours and quotes
are the same on every run."""

from datetime import UTC, datetime

# Markets open on every simulated symbol.
WEDNESDAY_NOON = int(datetime(2026, 11, 18, 12, 0, tzinfo=UTC).timestamp() * 1000)


class Clock:
    def __init__(self, at: int = WEDNESDAY_NOON) -> None:
        self.at = at

    def __call__(self) -> int:
        return self.at


def paper_terminals_on(clock: Clock, monkeypatch) -> Clock:
    """Every paper terminal opened from now on without a clock of its own reads this clock."""
    from terminals.paper import market

    monkeypatch.setattr(market, "clock", clock)
    return clock
