from django.apps import AppConfig

from terminals.signals import account_read, orders_finished, round_done


class CopytradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "copytrading"

    def ready(self) -> None:
        from . import services, watcher

        # A copied order's outcome updates its execution, links the slave position and
        # passes the trade on when the slave is itself a master (cascades).
        orders_finished.connect(services.copy_orders_finished, dispatch_uid="copytrading.orders_finished")
        account_read.connect(watcher.master_watch, dispatch_uid="copytrading.master_watch")
        round_done.connect(watcher.outcomes_sweep, dispatch_uid="copytrading.outcomes_sweep")
