from django.db import migrations

NAME = "journal: thin equity points"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    # Hourly: only whole hours older than a week are thinned, so an hour late costs nothing.
    Schedule.objects.update_or_create(
        name=NAME, defaults={"func": "journal.tasks.equity_prune", "schedule_type": "H", "repeats": -1}
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0003_list_indexes"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
