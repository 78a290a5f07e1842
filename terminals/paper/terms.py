"""What each paper trade server charges and when it stops an account out: a commission per lot on
every deal (0 by default, so balances stay round in demos and tests) and the margin level at which
it closes positions. settings.PAPER_SERVER_TERMS changes them per server."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ServerTerms:
    # In the account currency per lot, on each deal in and out, booked negative as MT5 does.
    commission_per_lot: Decimal = Decimal("0")
    # Margin level (equity / margin, %) below which the broker closes the most losing position.
    stop_out_level: Decimal = Decimal("50")

    def commission(self, volume: Decimal) -> Decimal:
        return -(self.commission_per_lot * volume).quantize(CENT)


def server_terms(server: str) -> ServerTerms:
    """The terms of `server`: the defaults, with what PAPER_SERVER_TERMS[server] sets."""
    configured = getattr(settings, "PAPER_SERVER_TERMS", {}).get(server, {})
    return ServerTerms(**{name: Decimal(str(value)) for name, value in configured.items()})
