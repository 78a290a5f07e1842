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
    """Every simulated terminal opened from now on reads this clock."""
    from terminals import gateway

    real = gateway.simulated_driver

    def on_the_clock(account):
        driver = real(account)
        driver.clock = clock
        return driver

    monkeypatch.setattr(gateway, "simulated_driver", on_the_clock)
    return clock
