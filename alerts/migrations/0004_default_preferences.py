"""The default alerts for the users created before there were defaults: a row for each kind a
user has none of (in the app; by email for failed orders, refused signals and account status
when the user has an address). A row a user has, chosen or not, is left as it is."""

from django.db import migrations

KINDS = ["order_filled", "order_failed", "signal_rejected", "account_status", "host_offline", "copy_error",
         "daily_summary", "price"]
EMAIL_KINDS = {"order_failed", "signal_rejected", "account_status"}


def add_defaults(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Preference = apps.get_model("alerts", "Preference")
    for user in User.objects.only("pk", "email").iterator(chunk_size=500):
        email = bool(user.email) and not user.email.lower().endswith(".invalid")
        rows = [Preference(owner_id=user.pk, kind=kind, in_app=True, email=email and kind in EMAIL_KINDS)
                for kind in KINDS]
        Preference.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_webhook_options"),
        ("alerts", "0003_cursor_failed_row"),
    ]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
