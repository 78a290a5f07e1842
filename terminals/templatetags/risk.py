from decimal import Decimal

from django import template

from terminals.orders.prepare import percent_text

register = template.Library()


@register.filter
def percent(fraction: Decimal | None) -> str:
    """A share of the balance as a trader reads it: 0.03 → "3 %"."""
    return "" if fraction is None else percent_text(fraction)
