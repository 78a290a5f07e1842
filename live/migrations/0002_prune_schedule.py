from django.db import migrations

NAME = "live: prune events"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    # Hourly: retention is days and a thousand events per user, so an hour late costs nothing.
    Schedule.objects.update_or_create(
        name=NAME, defaults={"func": "live.tasks.prune_events", "schedule_type": "H", "repeats": -1}
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("live", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
