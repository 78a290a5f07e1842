"""Writes of copy trading, the app's front door: pairs and their keys (pairs.py), a master's
trade event read from a body (events.py), stored and fanned out to its slaves (intake.py,
fanout.py, slave_orders.py), and the copies' outcomes passed on down the chain (outcomes.py).
Reads are in selectors.py; what these raise is in errors.py."""

from django.db.models import QuerySet
from django.utils import timezone

from .events import MasterEvent, event_parse
from .intake import copy_event_receive
from .models import CopyEvent
from .outcomes import copy_orders_finished, copy_outcomes_sweep
from .pairs import (
    PAIR_FIELDS,
    master_by_key,
    pair_by_key,
    pair_create,
    pair_delete,
    pair_key_reveal,
    pair_key_rotate,
    pair_rule_clean,
    pair_toggle,
    pair_update,
)

__all__ = [
    "PAIR_FIELDS",
    "MasterEvent",
    "copy_event_receive",
    "copy_orders_finished",
    "copy_outcomes_sweep",
    "event_parse",
    "history_clear",
    "master_by_key",
    "pair_by_key",
    "pair_create",
    "pair_delete",
    "pair_key_reveal",
    "pair_key_rotate",
    "pair_rule_clean",
    "pair_toggle",
    "pair_update",
]


def history_clear(*, events: QuerySet[CopyEvent]) -> int:
    """Hide `events` from the history (the rows stay for the audit); how many were hidden."""
    return CopyEvent.objects.filter(pk__in=events.values("pk")).update(hidden_at=timezone.now())
