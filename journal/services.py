"""What other apps and the host agent ask of the journal: its writes."""

# --- equity points and the day's result (journal/equity.py, journal/daily.py) ---------------
from .daily import AccountResult, day_result, period_result, totals_by_currency
from .equity import equity_prune, equity_record

__all__ = ["AccountResult", "day_result", "equity_prune", "equity_record", "period_result", "totals_by_currency"]
