"""Writes of the live app: storing published events and pruning old ones."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from .models import Event


def events_store(*, owner_id: int, events: list[tuple[str, dict]]) -> list[int]:
    """Store one publish call's events in one INSERT; returns their ids in order.

    Runs in the caller's transaction: a rolled-back order leaves no event behind."""
    rows = Event.objects.bulk_create([Event(owner_id=owner_id, kind=kind, payload=payload) for kind, payload in events])
    return [row.pk for row in rows]


def events_prune(*, keep: int | None = None, days: int | None = None) -> int:
    """Delete events older than `days` and all but each user's newest `keep`; returns how many."""
    keep = settings.LIVE_EVENTS_KEEP if keep is None else keep
    days = settings.LIVE_EVENTS_DAYS if days is None else days
    deleted, _ = Event.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()
    crowded = Event.objects.values("owner_id").annotate(n=Count("id")).filter(n__gt=keep)
    for row in crowded:
        newest = Event.objects.filter(owner_id=row["owner_id"]).order_by("-id").values_list("id", flat=True)
        oldest_kept = newest[keep - 1] if keep > 0 else None
        old = Event.objects.filter(owner_id=row["owner_id"])
        if oldest_kept is not None:
            old = old.filter(id__lt=oldest_kept)
        deleted += old.delete()[0]
    return deleted
