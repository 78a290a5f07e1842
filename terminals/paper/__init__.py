"""The paper broker: two simulated MT5 trade servers and their terminals.

The default on Linux, in the demo and in tests, and the trading engine behind the test doubles of the
other drivers. Its state lives in the database, so every worker process sees the same terminal and it
survives restarts; its driver (terminals.paper.driver) is the only code that writes it.
"""
