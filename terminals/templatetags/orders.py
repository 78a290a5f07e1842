from django import template

from terminals.retcodes import retcode_text

register = template.Library()


@register.filter
def retcode(code: int | None) -> str:
    """{{ order.retcode|retcode }}: "Market is closed (MARKET_CLOSED 10018)"; "" for none."""
    return retcode_text(code)
