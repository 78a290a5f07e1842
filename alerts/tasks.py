"""django-q2 entry points; each calls one function of the app."""

from . import dispatch as dispatcher
from . import services


def dispatch() -> int:
    return dispatcher.dispatch()


def deliver(delivery_id: int) -> None:
    # An id, not an instance: the task may run much later (a retry).
    services.delivery_attempt(delivery_id=delivery_id)


def daily_summaries() -> int:
    return dispatcher.daily_summaries()


def every_minute() -> None:
    # Scheduled by migration 0002: the dispatcher's catch-up, hosts and error rate, due retries.
    dispatcher.every_minute()
