from django.apps import AppConfig

from terminals.signals import orders_finished, placed_orders_ended


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "TradingView webhooks"

    def ready(self) -> None:
        from . import services

        # A signal none of whose orders filled is marked unfilled, with the orders' final states.
        orders_finished.connect(services.signal_outcomes_record, dispatch_uid="webhooks.signal_outcomes")
        placed_orders_ended.connect(services.signal_outcomes_record, dispatch_uid="webhooks.placed_signal_outcomes")
