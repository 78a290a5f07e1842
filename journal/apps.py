from django.apps import AppConfig

from terminals.signals import accounts_heartbeat_recorded


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Trade journal"

    def ready(self) -> None:
        from . import equity

        # A point of balance and equity per account and minute, from the host agent's heartbeats.
        accounts_heartbeat_recorded.connect(equity.heartbeat_recorded, dispatch_uid="journal.equity_points")
