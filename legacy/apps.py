from django.apps import AppConfig


class LegacyConfig(AppConfig):
    """Bringing a single-user bot's data over (manage.py import_legacy); no models of its own."""

    name = "legacy"
