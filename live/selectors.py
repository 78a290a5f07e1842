"""Reads of the live app."""

from django.db.models import Max, QuerySet

from .models import Event


def event_list_after(
    *, user, since: int, all_tenants: bool = False, kinds: frozenset[str] | None = None, limit: int = 500
) -> list[Event]:
    """Stored events after `since`, oldest first. Only the user's own unless `all_tenants`,
    which the caller allows for staff only; `since` from another user's stream selects nothing
    of theirs because the owner filter always applies."""
    events: QuerySet[Event] = Event.objects.all() if all_tenants else Event.objects.owned_by(user)
    events = events.filter(id__gt=since)
    if kinds:
        events = events.filter(kind__in=kinds)
    return list(events.order_by("id")[:limit])


def event_latest_id(*, user=None) -> int:
    """The newest event id (the user's own when given); 0 when there is none."""
    events = Event.objects.owned_by(user) if user is not None else Event.objects.all()
    return events.aggregate(latest=Max("id"))["latest"] or 0


def event_rows_after(*, since: int, limit: int = 1000) -> list[Event]:
    """Everyone's events after `since`: for the in-process relay only, never for a client."""
    return list(Event.objects.filter(id__gt=since).order_by("id")[:limit])
