from django import template

from terminals.orders_api import deals_url
from terminals.retcodes import retcode_text

register = template.Library()


@register.filter
def retcode(code: int | None) -> str:
    """{{ order.retcode|retcode }}: "Market is closed (MARKET_CLOSED 10018)"; "" for none."""
    return retcode_text(code)


@register.filter
def order_deals_url(order_id: int) -> str:
    """{{ order.pk|order_deals_url }}: the journal's list of the deals the order produced."""
    return deals_url(order_id)
