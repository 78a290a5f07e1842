"""Shaping an order to what the symbol accepts before it goes to a terminal.

Pure functions over the driver's SymbolInfo, no database: a bad volume, filling mode or
stop is refused here with a reason in words, instead of by the broker with a retcode.
Volumes and prices go through Decimal built from str(float) (the shortest repr), so 0.07
lots on a 0.01 step is exactly 7 steps, not 6.9999….
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Literal

from ..drivers.base import Filling, SymbolFillingFlag, SymbolInfo

Number = Decimal | float | int
Side = Literal["buy", "sell"]

# Below a billionth of a step is float noise (0.7 * 0.1 = 0.06999999999999999), not a
# volume anyone asked for: it must not cost a whole step when rounding down.
_STEP_NOISE = Decimal("1e-9")


class PreparationError(ValueError):
    """An order cannot be sent as asked; `reason` is a sentence for the trader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decimal(value: object, what: str) -> Decimal:
    # bool is an int, but True lots is a bug upstream, not a volume.
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int):
        raise PreparationError(f"The {what} must be a number, not {type(value).__name__}")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise PreparationError(f"The {what} must be a finite number, not {value}")
    return number


def _text(number: Decimal) -> str:
    # 0.010 → "0.01", 100.0 → "100": the way a trader writes lots.
    return f"{number.normalize():f}"


def percent_text(fraction: Decimal) -> str:
    """0.03 → "3 %", 0.0125 → "1.25 %": up to the next hundredth, so a share a little above
    a limit (0.020004 against 0.02) never reads as the limit itself."""
    percent = (fraction * 100).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return f"{_text(percent)} %"


def _price_text(price: Decimal, info: SymbolInfo) -> str:
    return f"{price:.{max(info.digits, 0)}f}"


def _volume_limits(info: SymbolInfo) -> tuple[Decimal, Decimal, Decimal]:
    step = _decimal(info.volume_step, "volume step")
    low = _decimal(info.volume_min, "minimum volume")
    high = _decimal(info.volume_max, "maximum volume")
    if step <= 0 or high <= 0 or high < low:
        raise PreparationError(f"{info.name} reports no usable volume limits (step {info.volume_step})")
    return step, low, high


def _volume_round(lots: Decimal, step: Decimal, high: Decimal) -> Decimal:
    # Clamp first: a huge request must not blow Decimal's precision in the division.
    steps = (min(lots, high) / step).quantize(_STEP_NOISE, rounding=ROUND_HALF_EVEN)
    return steps.to_integral_value(rounding=ROUND_FLOOR) * step


def volume_normalize(volume: Number, info: SymbolInfo) -> Decimal:
    """Lots rounded down to the symbol's volume step and clamped to its maximum.

    Down, never up: a copy or risk-sized order must not trade more than asked. Raises
    PreparationError when the volume is not a positive finite number or ends up below
    the symbol's minimum (such an order is refused, not raised to the minimum).
    """
    lots = _decimal(volume, "volume")
    if lots <= 0:
        raise PreparationError(f"The volume must be more than 0 lots, not {_text(lots)}")
    step, low, high = _volume_limits(info)
    rounded = _volume_round(lots, step, high)
    if lots < low:
        raise PreparationError(f"{_text(lots)} lots is below {info.name}'s minimum of {_text(low)}")
    if rounded < low or rounded <= 0:
        raise PreparationError(
            f"{_text(lots)} lots rounds down to {_text(rounded)} at {info.name}'s step of {_text(step)}, "
            f"below its minimum of {_text(low)}"
        )
    return rounded


FRACTION_PLACES = Decimal("0.00000001")  # Order.close_fraction's precision


def close_fraction(part: Decimal, whole: Decimal) -> Decimal:
    """The share `part` is of `whole` as an order keeps it: cut to eight places, never above 1."""
    return min(Decimal(1), (part / whole).quantize(FRACTION_PLACES, rounding=ROUND_FLOOR))


def close_share(lots: Decimal, fraction: Decimal) -> Decimal:
    """The lots of a position of `lots` that a close of `fraction` (see close_fraction) takes,
    before the symbol's step: the share as it was before it was cut to eight places, at
    most `lots` * 1e-8 more than `fraction` says. A third of 3 lots is 1 lot, not the
    0.99999999 that the step would then round down to 0.9."""
    return min(lots, lots * (fraction + FRACTION_PLACES)).quantize(FRACTION_PLACES, rounding=ROUND_FLOOR)


def filling_choose(info: SymbolInfo, *, execution_market: bool = True) -> Filling:
    """The filling mode to send for this symbol.

    `execution_market` is False for symbols in Request or Instant execution, where MT5
    always fills market orders Fill-or-Kill whatever the flags say.
    """
    if not execution_market:
        return Filling.FOK
    # A mode the symbol does not list is refused with 10030 (invalid filling), so only
    # listed ones are tried. FOK first: all or nothing, so the position is the size the
    # signal asked for; IOC may fill part; RETURN (no flag of its own) is what Market
    # and Exchange execution accept when neither flag is set.
    if info.filling_mode & SymbolFillingFlag.FOK:
        return Filling.FOK
    if info.filling_mode & SymbolFillingFlag.IOC:
        return Filling.IOC
    return Filling.RETURN


def _point(info: SymbolInfo) -> Decimal:
    # From digits rather than the float `point`: exact, and never 0.
    return Decimal(1).scaleb(-info.digits)


def _tick(info: SymbolInfo) -> Decimal:
    """The price increment: the point, or the tick size when it is coarser (index CFDs quoting 0.25)."""
    tick = _decimal(info.trade_tick_size, "tick size")
    return max(tick, _point(info))


def price_round(price: Number, info: SymbolInfo) -> float:
    """The price rounded half-up to the symbol's digits, and to its tick size when coarser.

    MT5 refuses prices off that grid with 10015 (invalid price).
    """
    value = _decimal(price, "price")
    tick = _tick(info)
    on_grid = (value / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
    return float(on_grid.quantize(_point(info), rounding=ROUND_HALF_UP))


def pips_to_price_distance(pips: Number, info: SymbolInfo) -> float:
    """The price distance of `pips`.

    A pip is 10 points on 3- and 5-digit symbols (EURUSD 1.08512, USDJPY 151.234: the last
    digit is a fractional pip) and 1 point otherwise (XAUUSD 2400.15 → 0.01, US30 → its
    point). Raises PreparationError for a negative or non-finite number.
    """
    count = _decimal(pips, "pips")
    if count < 0:
        raise PreparationError(f"A distance in pips cannot be negative, not {_text(count)}")
    points_per_pip = 10 if info.digits in (3, 5) else 1
    return float(count * points_per_pip * _point(info))


def stops_check(*, side: Side, price: Number, sl: Number | None, tp: Number | None, info: SymbolInfo) -> None:
    """Refuse a stop loss or take profit on the wrong side of `price` or nearer than the stop level.

    None or 0 means no stop, as in MT5. Raises PreparationError naming the level at fault.
    MT5 measures a market order's stops from the closing price (bid for a buy), so pass
    that price for the check to match the broker's.
    """
    if side not in ("buy", "sell"):
        raise PreparationError(f"The side must be buy or sell, not {side!r}")
    at = _decimal(price, "price")
    point = _point(info)
    minimum = info.trade_stops_level
    # A buy loses below its price and gains above it; a sell the other way round.
    for label, level, above in (("stop loss", sl, side == "sell"), ("take profit", tp, side == "buy")):
        if level is None or level == 0:
            continue
        value = _decimal(level, label)
        if (value <= at) if above else (value >= at):
            where = "at" if value == at else ("below" if above else "above")
            raise PreparationError(
                f"{label.capitalize()} {_price_text(value, info)} is {where} the {side} price {_price_text(at, info)}"
            )
        distance = abs(value - at) / point
        if distance < minimum:
            raise PreparationError(
                f"{label.capitalize()} {_price_text(value, info)} is {_text(distance)} points from the {side} price "
                f"{_price_text(at, info)}; {info.name} needs at least {minimum} points "
                f"({_price_text(minimum * point, info)})"
            )


def risk_volume(
    *, balance: Number, risk_percent: Number, entry: Number, stop_loss: Number, info: SymbolInfo
) -> Decimal:
    """Lots whose loss at `stop_loss` is `risk_percent` of `balance`, rounded down by volume_normalize.

    Loss per lot = |entry - stop_loss| / trade_tick_size * trade_tick_value (tick value is
    in the account currency, as MT5 reports it). Raises PreparationError with the reason.
    """
    money = _decimal(balance, "balance")
    percent = _decimal(risk_percent, "risk")
    if money <= 0:
        raise PreparationError(f"Sizing by risk needs a positive balance, not {_text(money)}")
    if not 0 < percent <= 100:
        raise PreparationError(f"The risk must be more than 0 and at most 100 percent, not {_text(percent)}")
    distance = abs(_decimal(entry, "entry price") - _decimal(stop_loss, "stop loss"))
    if distance == 0:
        raise PreparationError("Sizing by risk needs a stop loss away from the entry price")
    lots = money * percent / 100 / _loss_per_lot(distance, info)
    step, low, high = _volume_limits(info)
    if _volume_round(lots, step, high) < low:
        raise PreparationError(
            f"Risking {_text(percent)}% of {_text(money)} with the stop loss {_price_text(distance, info)} away "
            f"allows {_text(lots.quantize(Decimal('0.0001'), rounding=ROUND_FLOOR))} lots, "
            f"below {info.name}'s minimum of {_text(low)}"
        )
    return volume_normalize(lots, info)


def _loss_per_lot(distance: Decimal, info: SymbolInfo) -> Decimal:
    # Tick value is in the account currency, as MT5 reports it.
    tick_size = _decimal(info.trade_tick_size, "tick size")
    tick_value = _decimal(info.trade_tick_value, "tick value")
    if tick_size <= 0 or tick_value <= 0:
        raise PreparationError(f"{info.name} reports no tick value, so the loss at a stop loss cannot be measured")
    return distance / tick_size * tick_value


def stop_loss_money(*, volume: Number, entry: Number, stop_loss: Number, info: SymbolInfo) -> Decimal:
    """What `volume` lots lose between `entry` and `stop_loss`, in the account currency
    (the loss per lot as in risk_volume). Raises PreparationError without a tick value."""
    distance = abs(_decimal(entry, "entry price") - _decimal(stop_loss, "stop loss"))
    return _decimal(volume, "volume") * _loss_per_lot(distance, info)
