from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save

from journal.signals import trades_closed
from mt5saas import events
from mt5saas.schedules import schedules_keep
from terminals.signals import account_read, round_done


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"

    def ready(self) -> None:
        from . import closed, prices, services, wakeup

        # Price alerts are checked against the quotes of each account the host agent reads.
        account_read.connect(prices.price_alerts_check, dispatch_uid="alerts.price_alerts_check")
        # The first round of a host agent is the service (re)starting on that host.
        round_done.connect(services.agent_round_done, dispatch_uid="alerts.agent_round_done")
        # After each publish: wake this process's dispatcher (a set insert, nothing more).
        events.subscribe(wakeup.events_published)
        # Positions the terminal closed itself (SL, TP, stop-out), as the journal stores their deals.
        trades_closed.connect(closed.trades_closed, dispatch_uid="alerts.trades_closed")
        # A new user starts with the default alerts.
        post_save.connect(services.user_created, sender=settings.AUTH_USER_MODEL, dispatch_uid="alerts.user_created")
        schedules_keep(self, {
            "alerts: every minute": {"func": "alerts.tasks.every_minute", "schedule_type": "I", "minutes": 1},
            "alerts: daily summary": {"func": "alerts.tasks.daily_summaries", "schedule_type": "D"},
        })  # fmt: skip
