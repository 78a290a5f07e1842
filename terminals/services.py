"""Writes of the terminals app: its front door for other apps and for its own surfaces. The work
is done in one module a concern, named beside each group."""

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from .account_lifecycle import (
    account_delete,
    account_edit,
    account_instance,
    account_instance_removed,
    account_switch,
    account_update,
    symbol_mapping_add,
)
from .account_status import account_ea_report, account_heartbeat, account_set_status, accounts_heartbeat
from .hosts import (
    account_move,
    account_move_refusal,
    accounts_assign_waiting,
    host_pick,
    host_register,
    hosts_mark_stale,
    simulated_host,
)
from .orders.prepare import close_fraction, close_share  # a partial close's share, for copies
from .orders.queue import orders_enqueue, queued_stamp
from .registration import account_connect, account_import, demo_accounts
from .selectors import order_list
from .symbols import (  # symbol_resolve stores an automatic answer as a learned mapping
    symbol_mapping_set,
    symbol_resolve,
)

__all__ = [
    "account_connect",
    "account_delete",
    "account_ea_report",
    "account_edit",
    "account_heartbeat",
    "account_import",
    "account_instance",
    "account_instance_removed",
    "account_move",
    "account_move_refusal",
    "account_set_status",
    "account_switch",
    "account_update",
    "accounts_assign_waiting",
    "accounts_heartbeat",
    "close_fraction",
    "close_share",
    "demo_accounts",
    "host_pick",
    "host_register",
    "hosts_mark_stale",
    "order_history_clear",
    "orders_enqueue",
    "queued_stamp",
    "simulated_host",
    "symbol_mapping_add",
    "symbol_mapping_set",
    "symbol_resolve",
]


def order_history_clear(*, user, filters: Mapping[str, Any]) -> int:
    """Hide the user's orders order_list() shows with these filters from their history; the rows
    stay for the audit. Returns how many were hidden."""
    return order_list(user=user, filters=filters).update(hidden_at=timezone.now())
