from django.apps import AppConfig

from mt5saas.schedules import schedules_keep
from terminals.signals import account_read, accounts_heartbeat_recorded, accounts_read_chunk


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Trade journal"

    def ready(self) -> None:
        from . import equity, rounds

        # Deals are read while each terminal is open and stored once its chunk of the round is read.
        account_read.connect(rounds.deals_collect, dispatch_uid="journal.deals_collect")
        accounts_read_chunk.connect(rounds.deals_flush, dispatch_uid="journal.deals_flush")
        # A point of balance and equity per account and minute, from the host agent's heartbeats.
        accounts_heartbeat_recorded.connect(equity.heartbeat_recorded, dispatch_uid="journal.equity_points")
        # Hourly: only whole hours older than a week are thinned, so an hour late costs nothing.
        prune = {"func": "journal.tasks.equity_prune", "schedule_type": "H"}
        schedules_keep(self, {"journal: thin equity points": prune})
