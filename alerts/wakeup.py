"""Wakes the dispatcher within about a second of an alertable event, without slowing the
process that published it.

The publisher's only cost is events_published() (an mt5saas.events subscriber): a few dict
and set operations after its commit. A daemon thread of the process (one per process, made
again after a fork) wakes, waits ALERTS_KICK_DELAY_S for more, asks the database whether any
of those owners has alert preferences and, if one does, enqueues the dispatcher. The minute
schedule covers whatever a wake-up misses (a process that dies, ALERTS_KICK=0).
"""

import logging
import os
import threading

from django.conf import settings
from django.db import connections

from mt5saas.events import PublishedEvent

from . import queue
from .services import owners_with_preferences

log = logging.getLogger(__name__)

FINAL_ORDER = frozenset({"filled", "rejected", "failed"})


class _WakeUpThread:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owners: set[int] = set()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="alerts-wakeup", daemon=True).start()

    def note(self, owner_id: int) -> None:
        with self.lock:
            self.owners.add(owner_id)
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            # Gather what else is published meanwhile: one dispatch for a burst.
            threading.Event().wait(settings.ALERTS_KICK_DELAY_S)
            with self.lock:
                owners, self.owners = self.owners, set()
                self.wake.clear()
            try:
                if owners_with_preferences(owners):
                    queue.dispatch_enqueue()
            except Exception:  # logged; the minute schedule catches up
                log.warning("alerts: starting the dispatcher failed", exc_info=True)
            finally:
                connections.close_all()  # a thread of its own: its connection is not reused


_thread: _WakeUpThread | None = None
_thread_pid = 0
_thread_lock = threading.Lock()
# Accounts publish on every heartbeat; only a change of status is worth a dispatch.
_account_status: dict[int, str] = {}


def _process_thread() -> _WakeUpThread:
    global _thread, _thread_pid
    with _thread_lock:
        if _thread is None or _thread_pid != os.getpid():
            _thread, _thread_pid = _WakeUpThread(), os.getpid()
        return _thread


def _alertable(kind: str, payload: dict) -> bool:
    if kind == "order":
        return payload.get("status") in FINAL_ORDER
    if kind == "copy_event":
        return payload.get("status") == "error"
    if kind == "signal":
        return payload.get("status") == "refused"
    if kind == "account":
        account, status = payload.get("account"), payload.get("status")
        previous, _account_status[account] = _account_status.get(account), status
        # First seen in this process: worth a look unless it is the usual "online".
        return previous != status and (previous is not None or status != "online")
    return False


def events_published(user_id: int, events: list[PublishedEvent]) -> None:
    """mt5saas.events subscriber, called after the publisher's commit."""
    if not settings.ALERTS_KICK:
        return
    if [event for event in events if _alertable(event.kind, event.payload)]:  # each one updates the status map
        _process_thread().note(user_id)
