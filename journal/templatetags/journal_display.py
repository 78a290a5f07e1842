"""The Journal page's figures: money and ratios at fixed places ("—" when a figure has no value,
e.g. a profit factor without losses), durations in words, and the colour of a sign."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def figure(value: Decimal | int | None, places: int = 2) -> str:
    """{{ figures.profit_factor|figure }}: "1.53"; "—" for None."""
    if value is None:
        return "—"
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-int(places))):f}"


@register.filter
def duration(seconds: int | None) -> str:
    """ "2d 3h", "1h 05m", "4m 10s"; "" when not known."""
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


@register.filter
def tone(value: Decimal | int | None) -> str:
    """The text colour of an amount: green above zero, red below."""
    if value is None or value == 0:
        return ""
    return "text-success" if value > 0 else "text-danger"


REASONS = {"client": "desktop", "mobile": "mobile", "web": "web", "expert": "expert", "sl": "SL", "tp": "TP",
           "so": "stop-out", "rollover": "rollover", "vmargin": "variation margin", "split": "split"}  # fmt: skip


@register.filter
def reason(value: str) -> str:
    """Who or what made a deal, as MT5's history names it: "SL", "stop-out", "mobile"…"""
    return REASONS.get(value, value)
