"""Terminal sessions: one long-lived process per attached terminal, called over loopback.

The MetaTrader5 module attaches a whole process to one terminal, and attaching (initialize) can
take seconds: a worker that drove several accounts itself would re-attach between orders. So each
account gets a session process that attaches once and stays attached; workers hand it driver calls.

Nothing from the project's Django apps is imported at module level by `protocol` and `process`: a
spawned session imports them before it has set Django up.
"""
