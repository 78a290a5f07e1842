from django.apps import AppConfig

from mt5saas import events
from mt5saas.schedules import schedules_keep


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live events"

    def ready(self) -> None:
        # Imported here: services reads the models, which load after the app configs.
        from . import broadcast, services

        # Every published event is stored here first: its id is the stream's resume point.
        events.store_register(services.events_store)
        events.subscribe(broadcast.events_broadcast, flush=broadcast.events_flush)
        # Hourly: retention is days and a thousand events per user, so an hour late costs nothing.
        schedules_keep(self, {"live: prune events": {"func": "live.tasks.prune_events", "schedule_type": "H"}})
