"""Reads of the live app."""

from datetime import timedelta

from django.db.models import Max, QuerySet

from .models import Event


def _visible(user, all_tenants: bool, kinds: frozenset[str] | None) -> QuerySet[Event]:
    events: QuerySet[Event] = Event.objects.all() if all_tenants else Event.objects.owned_by(user)
    return events.filter(kind__in=kinds) if kinds else events


def event_resume_cursor(
    *,
    user,
    since: int,
    all_tenants: bool = False,
    kinds: frozenset[str] | None = None,
    lookback_s: float,
    limit: int = 1000,
) -> int:
    """Where a stream resumed after event `since` starts reading (exclusive).

    An id is taken when the row is inserted, but the row is seen when its transaction
    commits: an event with a lower id can reach the stream after `since` did, and a client
    that dropped in between has never had it. So the catch-up starts below the caller's
    events that were created up to `lookback_s` (longer than any publishing transaction)
    before event `since`; those the client already has come again and are dropped by id."""
    anchor = Event.objects.filter(pk=since).values_list("created_at", flat=True).first()
    if anchor is None or lookback_s <= 0:
        return since  # pruned or never stored: nothing to measure the window from
    oldest = anchor - timedelta(seconds=lookback_s)
    cursor = since
    earlier = _visible(user, all_tenants, kinds).filter(id__lt=since).order_by("-id")
    for event_id, created_at in earlier.values_list("id", "created_at")[:limit]:
        if created_at < oldest:
            break
        cursor = event_id - 1
    return cursor


def event_list_after(
    *, user, since: int, all_tenants: bool = False, kinds: frozenset[str] | None = None, limit: int = 500
) -> list[Event]:
    """Stored events after `since`, oldest first. Only the user's own unless `all_tenants`,
    which the caller allows for staff only; `since` from another user's stream selects nothing
    of theirs because the owner filter always applies."""
    return list(_visible(user, all_tenants, kinds).filter(id__gt=since).order_by("id")[:limit])


def event_latest_id(*, user=None) -> int:
    """The newest event id (the user's own when given); 0 when there is none."""
    events = Event.objects.owned_by(user) if user is not None else Event.objects.all()
    return events.aggregate(latest=Max("id"))["latest"] or 0


def event_rows_after(*, since: int, limit: int = 1000) -> list[Event]:
    """Everyone's events after `since`: for the in-process relay only, never for a client."""
    return list(Event.objects.filter(id__gt=since).order_by("id")[:limit])
