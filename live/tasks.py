from . import services


def prune_events() -> int:
    # Scheduled by migration 0002 (django-q2 Schedule "live: prune events").
    return services.events_prune()
