"""Stand-ins for things the suite cannot run on Linux (the Windows-only MetaTrader5 module)."""
