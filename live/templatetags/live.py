from django import template

from live.selectors import event_latest_id

register = template.Library()


@register.simple_tag(takes_context=True)
def live_cursor(context) -> int:
    """The user's newest event id when the page was rendered: the page's stream starts after
    it, so nothing that happens between rendering and connecting is missed."""
    user = context["request"].user
    return event_latest_id(user=user) if user.is_authenticated else 0
