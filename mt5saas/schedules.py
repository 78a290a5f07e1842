"""An app's periodic django-q2 tasks, kept in place: each app names its schedules in its ready(),
and every `migrate` (post_migrate) creates the ones missing. A schedule an operator deleted comes
back at the next deploy, and one they edited keeps their changes (created, never overwritten).
The apps' data migrations made them first; this keeps them."""

from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def schedules_keep(app: AppConfig, schedules: dict[str, dict]) -> None:
    """After the app's migrations, create each schedule (name → Schedule fields) that is missing."""
    receiver = partial(_create_missing, schedules)  # held by the signal itself (weak=False): nothing else holds it
    post_migrate.connect(receiver, sender=app, weak=False, dispatch_uid=f"{app.label}.schedules_keep")


def _create_missing(schedules: dict[str, dict], *, apps, using: str, **_) -> None:
    Schedule = apps.get_model("django_q", "Schedule")  # the migrated state's model
    for name, fields in schedules.items():
        Schedule.objects.using(using).get_or_create(name=name, defaults={"repeats": -1, **fields})
