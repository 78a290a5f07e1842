from django.db import migrations

SCHEDULES = {
    # Every minute: the dispatcher's catch-up (a kick usually runs it sooner) and due retries.
    "alerts: every minute": {"func": "alerts.tasks.every_minute", "schedule_type": "I", "minutes": 1},
    "alerts: daily summary": {"func": "alerts.tasks.daily_summaries", "schedule_type": "D"},
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, fields in SCHEDULES.items():
        Schedule.objects.update_or_create(name=name, defaults={**fields, "repeats": -1})


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
