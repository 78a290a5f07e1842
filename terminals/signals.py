"""What terminals tells other apps, as Django signals: the public place to listen.

A receiver of orders_finished or placed_orders_ended runs inside the transaction that records
the states, so what it writes commits with them in one write; it must not raise, and must not
wait on anything outside the database (the transaction holds SQLite's one writer). A
receiver's failure is logged and undoes only the receivers' writes.
"""

from django.dispatch import Signal

# Orders the engine brought to a final state (or placed as pending orders), with `orders` (a
# list: a fan-out's round records many at once). Copy trading links a filled copy's slave
# position and passes the trade on to the slave's own slaves; webhooks marks a signal none of
# whose orders filled.
orders_finished = Signal()
# Placed pending orders that left the terminal's pending orders, filled or cancelled, with `orders`.
placed_orders_ended = Signal()
# Sent by the host agent each round for every account whose terminal answered, with
# `account`, the open `driver` and `this_round`, a dict that lives for one round: a receiver
# keeps there what it reads once for all accounts (which ones it has anything to do for), not
# once per account. The copy trading watcher reads a master's new deals here, so a trade made
# on the terminal itself is copied within one round. Receivers are isolated from the heartbeat.
account_read = Signal()
# Sent by the host agent after each chunk of a round's accounts (terminals.agent.CHUNK) was read
# and its heartbeats recorded, with `accounts` (those whose terminals answered) and the round's
# `this_round`: what receivers of account_read gathered for them is written here in a few
# statements for the whole chunk. Receivers are isolated from the round.
accounts_read_chunk = Signal()
# Sent by the host agent at the end of each round with `host` and `accounts` (the host's
# accounts), for work that must happen even when no task is delivered (the copy outcomes of a
# worker that died).
round_done = Signal()
# Sent by accounts_heartbeat once it recorded a chunk of the host agent's readings, with
# `readings`: (account, AccountInfo) of each account whose terminal answered, as read. The
# journal keeps its equity points from it. Not inside a transaction; receivers are isolated
# from the heartbeat (a failure is logged), and should cost a statement or two per chunk.
accounts_heartbeat_recorded = Signal()
