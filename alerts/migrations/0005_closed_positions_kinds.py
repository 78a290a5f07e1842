"""The kinds of positions the terminal closed itself (stop loss, take profit, stop-out), with
their defaults for the users created before them: in the app, and a stop-out by email too when
the user has an address. A row a user has is left as it is."""

from django.db import migrations, models

KINDS = ["closed_sl", "closed_tp", "stop_out"]
EMAIL_KINDS = {"stop_out"}


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
        ('accounts', '0002_webhook_options'),
        ('alerts', '0004_default_preferences'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='kind',
            field=models.CharField(choices=[('order_filled', 'Order filled'), ('order_failed', 'Order rejected or failed'), ('signal_rejected', 'Signal rejected'), ('account_status', 'Account online/offline'), ('host_offline', 'Host offline'), ('copy_error', 'Copy trade error'), ('daily_summary', 'Daily P&L summary'), ('price', 'Price alert triggered'), ('closed_sl', 'Position closed by stop loss'), ('closed_tp', 'Position closed by take profit'), ('stop_out', 'Stop-out'), ('service', 'Service')], max_length=20),
        ),
        migrations.AlterField(
            model_name='preference',
            name='kind',
            field=models.CharField(choices=[('order_filled', 'Order filled'), ('order_failed', 'Order rejected or failed'), ('signal_rejected', 'Signal rejected'), ('account_status', 'Account online/offline'), ('host_offline', 'Host offline'), ('copy_error', 'Copy trade error'), ('daily_summary', 'Daily P&L summary'), ('price', 'Price alert triggered'), ('closed_sl', 'Position closed by stop loss'), ('closed_tp', 'Position closed by take profit'), ('stop_out', 'Stop-out'), ('service', 'Service')], max_length=20),
        ),
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
    ]
