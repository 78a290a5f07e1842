"""What the paper broker's two trade servers offer: symbols with real specifications (digits, tick
size and value, contract size, volume limits, filling modes, stop levels, sessions) and prices that
move with time the same way in every process. One server uses the plain names TradingView sends,
the other the suffixes and aliases real brokers use, so symbol mapping is exercised."""

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from terminals.drivers.base import OrderType, SymbolFillingFlag, SymbolInfo

from .models import SimPosition
from .terms import ServerTerms, server_terms


@dataclass(frozen=True)
class SymbolSpec:
    info: SymbolInfo
    base_price: float
    spread_points: int
    session: str  # "fx": closed at weekends; "cfd": also 21:00-22:00 UTC daily; "crypto": always


def _spec(name, description, digits, contract, tick_value, vmin, vstep, vmax, filling, stops, price, spread, session):
    point = 10.0**-digits
    info = SymbolInfo(
        name=name,
        description=description,
        digits=digits,
        point=point,
        trade_tick_size=point,
        trade_tick_value=tick_value,
        trade_contract_size=contract,
        volume_min=vmin,
        volume_step=vstep,
        volume_max=vmax,
        filling_mode=filling,
        trade_stops_level=stops,
    )
    return SymbolSpec(info, price, spread, session)


FOK, IOC = SymbolFillingFlag.FOK, SymbolFillingFlag.IOC
SERVERS: dict[str, dict[str, SymbolSpec]] = {
    "SimStandard-Demo": {
        s.info.name: s
        for s in [
            _spec("EURUSD", "Euro vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 100, FOK | IOC, 10, 1.0850, 12, "fx"),
            _spec("GBPUSD", "Pound vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 100, FOK | IOC, 10, 1.2700, 15, "fx"),
            _spec("XAUUSD", "Gold vs US Dollar", 2, 100, 1.0, 0.01, 0.01, 50, FOK | IOC, 50, 2400.00, 30, "cfd"),
            _spec("XAGUSD", "Silver vs US Dollar", 3, 5000, 5.0, 0.01, 0.01, 50, FOK | IOC, 50, 30.000, 30, "cfd"),
            _spec("US30", "Dow Jones 30", 1, 1, 0.1, 0.1, 0.1, 100, FOK | IOC, 20, 39000.0, 20, "cfd"),
            _spec("USTEC", "Nasdaq 100", 1, 1, 0.1, 0.1, 0.1, 100, FOK | IOC, 20, 18500.0, 15, "cfd"),
            _spec("UKOIL", "Brent Crude Oil", 2, 1000, 10.0, 0.01, 0.01, 50, FOK | IOC, 20, 82.00, 5, "cfd"),
            _spec("BTCUSD", "Bitcoin vs US Dollar", 2, 1, 0.01, 0.01, 0.01, 10, FOK | IOC, 0, 65000.00, 2500, "crypto"),
            _spec("ETHUSD", "Ethereum vs US Dollar", 2, 1, 0.01, 0.01, 0.01, 50, FOK | IOC, 0, 3200.00, 150, "crypto"),
        ]
    },
    "SimBroker-Demo": {
        s.info.name: s
        for s in [
            _spec("EURUSD.m", "Euro vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 50, FOK, 10, 1.0850, 14, "fx"),
            _spec("GBPUSD.m", "Pound vs US Dollar", 5, 100000, 1.0, 0.01, 0.01, 50, FOK, 10, 1.2700, 18, "fx"),
            _spec("GOLD", "Gold Spot", 2, 100, 1.0, 0.01, 0.01, 20, IOC, 100, 2400.00, 35, "cfd"),
            _spec("SILVER", "Silver Spot", 3, 5000, 5.0, 0.01, 0.01, 20, IOC, 100, 30.000, 35, "cfd"),
            _spec("US30.cash", "US Wall Street 30 Cash", 1, 1, 0.1, 0.1, 0.1, 50, IOC, 30, 39000.0, 25, "cfd"),
            _spec("NAS100.cash", "US Tech 100 Cash", 1, 1, 0.1, 0.1, 0.1, 50, IOC, 30, 18500.0, 20, "cfd"),
            _spec("USOIL.cash", "US Crude Oil Cash", 2, 1000, 10.0, 0.01, 0.01, 50, IOC, 30, 78.00, 6, "cfd"),
            _spec("BTCUSD", "Bitcoin", 2, 1, 0.01, 0.01, 0.01, 5, FOK | IOC, 0, 65000.00, 3000, "crypto"),
        ]
    },
}


def as_decimal(value: float) -> Decimal:
    return Decimal(str(value))


def now_msc() -> int:
    return time.time_ns() // 1_000_000


# The clock (epoch milliseconds) of every paper terminal made without one of its own. A documented
# hook: tests set it to fix market hours and quotes for the terminals the project opens
# (tests/terminals/clocks.py).
clock: Callable[[], int] = now_msc


def market_open(session: str, at_msc: int) -> bool:
    moment = datetime.fromtimestamp(at_msc / 1000, tz=UTC)
    if session == "crypto":
        return True
    weekday, hour = moment.weekday(), moment.hour
    # FX week: Sunday 22:00 to Friday 22:00 UTC.
    if weekday == 5 or (weekday == 4 and hour >= 22) or (weekday == 6 and hour < 22):
        return False
    return not (session == "cfd" and hour == 21)


def quote(spec: SymbolSpec, at_msc: int) -> tuple[float, float]:
    """Bid and ask at a moment: slow and fast waves plus per-second noise, the same in
    every process (a function of symbol and time, not of state)."""
    t = at_msc / 1000
    second = int(t)
    noise = int.from_bytes(hashlib.blake2b(f"{spec.info.name}:{second}".encode(), digest_size=4).digest()) / 2**32
    move = 0.004 * math.sin(2 * math.pi * t / 3600) + 0.0008 * math.sin(2 * math.pi * t / 97) + 0.0002 * (noise - 0.5)
    point = spec.info.point
    mid = spec.base_price * (1 + move)
    bid = round(round(mid / point - spec.spread_points / 2) * point, spec.info.digits)
    ask = round(bid + spec.spread_points * point, spec.info.digits)
    return bid, ask


@dataclass(frozen=True)
class Market:
    """One trade server's symbols as one terminal sees them: priced at that terminal's clock."""

    server: str
    clock: Callable[[], int]

    def spec(self, symbol: str) -> SymbolSpec | None:
        return SERVERS[self.server].get(symbol)

    def terms(self) -> ServerTerms:
        return server_terms(self.server)

    def margin(self, symbol: str, volume: float, price: float, leverage: int) -> float:
        info = self.spec(symbol).info
        notional = price / info.trade_tick_size * info.trade_tick_value * volume
        return notional / leverage

    def profit(self, position: SimPosition, *, price: float | None = None, volume: float | None = None) -> float:
        """The position's profit at `price` (None: the price it would close at now) for `volume` (None: all of it)."""
        spec = self.spec(position.symbol)
        if price is None:
            bid, ask = quote(spec, self.clock())
            price = bid if position.type == OrderType.BUY else ask
        diff = price - position.price_open if position.type == OrderType.BUY else position.price_open - price
        lots = float(position.volume) if volume is None else volume
        return diff / spec.info.trade_tick_size * spec.info.trade_tick_value * lots

    def margin_used(self, positions: list[SimPosition], leverage: int) -> float:
        return sum(self.margin(p.symbol, float(p.volume), p.price_open, leverage) for p in positions)
