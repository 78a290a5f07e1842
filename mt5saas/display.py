"""How numbers and times read on every page, one format each: prices at their symbol's digits,
lots without trailing zeros, times in the trader's zone with its offset. The live feed's script
(static/mt5saas/app.js, formatTime) writes times the same way."""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone

Number = Decimal | float | int | str


def _decimal(value: Number | None) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal) -> str:
    text = f"{number.normalize():f}"  # normalize() alone writes 10 as 1E+1
    return "0" if text == "-0" else text


def price_text(value: Number | None, digits: int | None = None) -> str:
    """A price at the symbol's digits ("2412.30" at 2), or as stored without trailing zeros when
    the digits are not known; "" for no price."""
    number = _decimal(value)
    if number is None:
        return ""
    if digits is None or not 0 <= digits <= 10:
        return _plain(number)
    return f"{number.quantize(Decimal(1).scaleb(-digits)):f}"


def lots_text(value: Number | None) -> str:
    """Lots without trailing zeros: "0.1", "10"; "" for none."""
    number = _decimal(value)
    return "" if number is None else _plain(number)


def zone_offset(moment: datetime) -> str:
    """"UTC" or the offset from it, "+09:00", "-03:30", of an aware local time."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"{'+' if minutes > 0 else '-'}{hours:02d}:{rest:02d}"


def time_text(value: datetime | None) -> str:
    """"2026-05-01 14:03:22 +02:00": the moment in the active time zone (the trader's), with its offset."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{local:%Y-%m-%d %H:%M:%S} {zone_offset(local)}"
