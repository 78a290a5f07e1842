from datetime import datetime

from django import template
from django.utils.html import format_html

from mt5saas.display import Number, lots_text, price_text, time_text

register = template.Library()


@register.filter
def price(value: Number | None, digits: int | None = None) -> str:
    """{{ order.fill_price|price:order.digits }}"""
    return price_text(value, digits)


@register.filter
def lots(value: Number | None) -> str:
    return lots_text(value)


@register.filter
def when(value: datetime | None) -> str:
    """A <time> in the trader's zone, with the moment itself for scripts and tooltips."""
    if value is None:
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), time_text(value))
