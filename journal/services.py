"""The journal's front door for writes: deals from a terminal stored, attributed and folded into
trades (the host agent's rounds call the same code through journal.rounds), equity points from
the heartbeats, and a day's realised result."""

from .daily import AccountResult, day_result, period_result, totals_by_currency
from .equity import equity_prune, equity_record
from .ingest import deals_record, deals_store

__all__ = [
    "AccountResult",
    "day_result",
    "deals_record",
    "deals_store",
    "equity_prune",
    "equity_record",
    "period_result",
    "totals_by_currency",
]
