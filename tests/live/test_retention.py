"""Events are kept per user (LIVE_EVENTS_KEEP) and for LIVE_EVENTS_DAYS; a schedule prunes them."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from live.models import Event
from live.tasks import prune_events
from mt5saas.events import publish_many
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_prune_keeps_each_users_newest_and_drops_old_ones(settings, django_capture_on_commit_callbacks):
    settings.LIVE_EVENTS_KEEP, settings.LIVE_EVENTS_DAYS = 3, 7
    busy, quiet = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        publish_many(busy.pk, [("order", {"id": n}) for n in range(6)])
        publish_many(quiet.pk, [("order", {"id": 100}), ("order", {"id": 101})])
    stale = Event.objects.filter(owner=quiet).order_by("id").first()
    Event.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=8))

    assert prune_events() == 4

    assert [e.payload["id"] for e in Event.objects.filter(owner=busy).order_by("id")] == [3, 4, 5]
    assert [e.payload["id"] for e in Event.objects.filter(owner=quiet)] == [101]


def test_a_rolled_back_transaction_leaves_no_event():
    from django.db import transaction

    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_many(user.pk, [("order", {"id": 1})])
        raise RuntimeError("the order failed")
    assert not Event.objects.filter(owner=user).exists()


def test_pruning_is_scheduled_with_django_q():
    schedule = Schedule.objects.get(name="live: prune events")
    assert schedule.func == "live.tasks.prune_events" and schedule.schedule_type == Schedule.HOURLY
