"""Starts the dispatcher within about a second of an alertable event, without slowing the
process that published it.

The publisher's only cost is note_published(): a few dict and set operations after its
commit. A daemon thread of the process (one per process, made again after a fork) wakes,
waits ALERTS_KICK_DELAY_S for more, asks the database whether any of those owners has alert
preferences and, if one does, enqueues alerts.tasks.dispatch. The minute schedule covers
whatever a kick misses (a process that dies, ALERTS_KICK=0).
"""

import logging
import os
import threading

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

FINAL_ORDER = frozenset({"filled", "rejected", "failed"})


class _Kicker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owners: set[int] = set()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="alerts-kick", daemon=True).start()

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
                self._kick(owners)
            except Exception:  # logged; the minute schedule catches up
                log.warning("alerts: starting the dispatcher failed", exc_info=True)
            finally:
                connections.close_all()  # a thread of its own: its connection is not reused

    @staticmethod
    def _kick(owners: set[int]) -> None:
        from django_q.tasks import async_task

        from .services import owners_with_preferences

        if owners_with_preferences(owners):
            async_task("alerts.tasks.dispatch", task_name="alerts-dispatch")


_kicker: _Kicker | None = None
_kicker_pid = 0
_kicker_lock = threading.Lock()
# Accounts publish on every heartbeat; only a change of status is worth a dispatch.
_account_status: dict[int, str] = {}


def _process_kicker() -> _Kicker:
    global _kicker, _kicker_pid
    with _kicker_lock:
        if _kicker is None or _kicker_pid != os.getpid():
            _kicker, _kicker_pid = _Kicker(), os.getpid()
        return _kicker


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


def note_published(user_id: int, events: list[tuple[str, dict]]) -> None:
    """mt5saas.events.after_publish hook, called after the publisher's commit."""
    if not settings.ALERTS_KICK:
        return
    if [kind for kind, payload in events if _alertable(kind, payload)]:  # each event updates the status map
        _process_kicker().note(user_id)
