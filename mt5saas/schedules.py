"""An app's periodic django-q2 tasks, kept in place: each app names its schedules in its ready(),
and every `migrate` (post_migrate) creates the ones missing. A schedule an operator deleted comes
back at the next deploy, and one they edited keeps their changes (created, never overwritten).
The apps' data migrations made them first; this keeps them."""

from functools import partial

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def schedules_keep(app: AppConfig, schedules: dict[str, dict]) -> None:
    """After the app's migrations, create each schedule (name → Schedule fields) that is missing."""
    receiver = partial(_create_missing, schedules)  # held by the signal itself (weak=False): nothing else holds it
    post_migrate.connect(receiver, sender=app, weak=False, dispatch_uid=f"{app.label}.schedules_keep")


def _create_missing(schedules: dict[str, dict], *, using: str, apps=global_apps, **_) -> None:
    # `apps`: the migrated state's, from migrate; flush sends none (its tables are the models').
    Schedule = apps.get_model("django_q", "Schedule")
    for name, fields in schedules.items():
        Schedule.objects.using(using).get_or_create(name=name, defaults={"repeats": -1, **fields})
