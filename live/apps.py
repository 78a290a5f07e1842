from django.apps import AppConfig

from mt5saas import events


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live events"

    def ready(self) -> None:
        # Imported here: services reads the models, which load after the app configs.
        from . import broadcast, services

        # Every published event is stored here first: its id is the stream's resume point.
        events.store_register(services.events_store)
        events.subscribe(broadcast.events_broadcast, flush=broadcast.events_flush)
