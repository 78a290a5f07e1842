"""Every published event, kept for a while so a reconnecting client misses nothing (docs/live-events.md)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from mt5saas.models import OwnedQuerySet


class EventQuerySet(OwnedQuerySet):
    pass


class Event(models.Model):
    # The primary key is the stream's event id: monotonic, sent as SSE `id:` and taken back as
    # Last-Event-ID / since.
    id = models.BigAutoField(primary_key=True)
    # No database constraint: the event is a side record written inside the publisher's
    # transaction, and it must never be the reason that transaction fails. Django still deletes
    # a user's events with the user.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    kind = models.CharField(max_length=20)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EventQuerySet.as_manager()

    class Meta:
        # Catch-up reads "owner's events after id N"; pruning reads "owner's newest N".
        indexes = [models.Index(fields=["owner", "id"], name="live_event_owner_id")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
