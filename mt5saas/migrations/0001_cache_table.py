"""The database cache table of settings.CACHES["shared"] (cluster stats for /health without
Redis), made by `migrate` so a fresh clone needs no separate createcachetable. Made with
Redis too: unsetting REDIS_URL later must not break /health. A table createcachetable made
before is kept."""

from django.core.management import call_command
from django.db import migrations

TABLE = "mt5saas_shared_cache"


def create(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):

    initial = True
    dependencies = []

    operations = [migrations.RunPython(create, drop)]
