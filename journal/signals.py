"""What the journal tells other apps, as Django signals sent inside the transaction that stores
the deals: a receiver's writes commit with them (it must not raise or wait on anything outside
the database)."""

from django.dispatch import Signal

# Deals stored for the first time, with `deals` (a list of journal.models.Deal of one or more
# accounts); a deal read again is not sent again.
deals_stored = Signal()
# Trades whose last volume was closed, with `trades` (a list of journal.models.Trade), each sent once.
trades_closed = Signal()
