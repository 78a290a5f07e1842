"""The apps' periodic tasks are kept in place by every migrate: one deleted comes back, one an
operator changed keeps the change."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

NAMES = ["live: prune events", "journal: thin equity points", "alerts: every minute", "alerts: daily summary"]


@pytest.mark.django_db
def test_a_deleted_schedule_comes_back_at_the_next_migrate_and_an_edited_one_stays_edited():
    Schedule.objects.filter(name__in=NAMES[:2]).delete()
    assert Schedule.objects.filter(name="alerts: every minute").update(minutes=5) == 1

    call_command("migrate", verbosity=0)

    kept = {s.name: s for s in Schedule.objects.filter(name__in=NAMES)}
    assert sorted(kept) == sorted(NAMES)
    live = kept["live: prune events"]
    assert (live.func, live.schedule_type) == ("live.tasks.prune_events", "H")
    assert kept["journal: thin equity points"].func == "journal.tasks.equity_prune"
    assert kept["alerts: every minute"].minutes == 5


@pytest.mark.django_db
def test_a_flushed_database_gets_them_back():
    call_command("flush", interactive=False, verbosity=0)  # what a test that commits does after it

    assert Schedule.objects.filter(name__in=NAMES).count() == len(NAMES)
