"""The order engine (docs/execution.md): each order executed at most once, the orders of one
account one at a time and in arrival order, whichever queue delivers which task.

queue wakes drains, locks decides who drains an account, drain claims and executes, guards,
requests and prepare turn an order into terminal requests, send sends, retries and finds
them, record writes final states, placed follows pending orders the terminal took.
"""

# Marks our orders on a terminal, beside the client id in the comment; also the drain locks' namespace.
MAGIC = 520_617
