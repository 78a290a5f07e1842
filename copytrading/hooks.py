"""Where concurrent writers of copy trading meet, as signals that nothing listens to in production.

Each is sent with the locks of its moment held: a test holds one writer there and shows what
another does meanwhile (it waits for the lock, or reads what the first one wrote). A receiver
that raises fails that step as a crash there would."""

from django.dispatch import Signal

# copy_event_receive, the master's row locked and what is open of the order read; the event is
# not stored yet. Sent by the master (a TradingAccount) with event= (a MasterEvent).
intake_open_volume_read = Signal()

# A stored event's fan-out, its pairs' links to the master's order read and locked, before any
# order, link or execution is written. Sent by the CopyEvent row with event= (a MasterEvent).
fan_out_links_locked = Signal()

# copy_orders_finished, the executions claimed and the orders' links locked, before any link
# changes or a fill is passed on. Sent by Order with orders= and links= (order id → CopyLink).
outcome_links_locked = Signal()

# copy_orders_finished, before a slave's fill is passed on to its own slaves as its master
# event (a cascade). Sent by the filled Order with link= (its CopyLink).
fill_passing_on = Signal()
