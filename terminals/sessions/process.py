"""The session process: attach to the terminal once, then run driver calls until told to stop.

Reader threads only receive; the main thread executes calls from one queue in arrival order,
however many clients are connected, so calls for one account never overlap. The starter holds
one end of a control pipe: when it closes (Session.stop(), or the starter dies, even by SIGKILL)
the session finishes the call in hand, shuts the driver down and exits.
"""

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection, Listener

import django
from django.db import close_old_connections
from django.utils.module_loading import import_string

from mt5saas.crypto import decrypt
from terminals.drivers.base import Driver

from .protocol import Reply, SessionError, SessionSpec, failure_reply

IDLE_S = 60.0
# shutdown() is the session's to make (on stop), connect() happened at start.
CALLS = Driver.__abstractmethods__ - {"shutdown", "connect"}


def serve(spec: SessionSpec, authkey: bytes, control: Connection) -> None:
    """The session process's main: attach, then answer calls until the control pipe closes."""
    # Ctrl+C in the agent's console reaches its whole process group: the agent stops its
    # sessions itself, each after the call in hand, not in the middle of an order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path[:0] = spec.sys_path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mt5saas.settings")
    django.setup()
    try:
        driver = import_string(spec.driver)(**spec.options)
        driver.connect(login=spec.login, password=decrypt(spec.password), server=spec.server)
    except Exception as error:  # noqa: BLE001 — the starter raises it; this process just ends
        control.send(failure_reply(error))
        return
    calls: queue.SimpleQueue = queue.SimpleQueue()
    with Listener(("127.0.0.1", 0), authkey=authkey) as listener:
        control.send(("ok", listener.address))
        threading.Thread(target=_accept, args=(listener, calls), daemon=True).start()
        threading.Thread(target=_watch, args=(control, calls), daemon=True).start()
        _execute(driver, calls)
    driver.shutdown()


def _watch(control: Connection, calls: queue.SimpleQueue) -> None:
    # The starter never writes here: end of file means stop, or that it died.
    with contextlib.suppress(EOFError, OSError):
        control.recv()
    calls.put(None)


def _accept(listener: Listener, calls: queue.SimpleQueue) -> None:
    while True:
        try:
            connection = listener.accept()
        except (multiprocessing.AuthenticationError, EOFError, ConnectionError):
            continue  # a caller without the key, or one that hung up mid-handshake
        threading.Thread(target=_receive, args=(connection, calls), daemon=True).start()


def _receive(connection: Connection, calls: queue.SimpleQueue) -> None:
    with connection, contextlib.suppress(EOFError, OSError):
        while True:
            calls.put((connection, connection.recv()))


def _execute(driver: Driver, calls: queue.SimpleQueue) -> None:
    while True:
        try:
            item = calls.get(timeout=IDLE_S)
        except queue.Empty:
            # A session lives for days: when idle, let go of a database connection past its
            # age. Not per call: with CONN_MAX_AGE=0 that reconnects for every order.
            close_old_connections()
            continue
        if item is None:
            return
        connection, request = item
        try:
            method, args, kwargs = request
            if method not in CALLS:
                raise SessionError(f"{method!r} is not a call a session runs")
            reply: Reply = ("ok", getattr(driver, method)(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 — the caller gets it; the session serves on
            reply = failure_reply(error)
            close_old_connections()  # the error may have left the database connection unusable
        # A caller that hung up meanwhile learns nothing: it already saw an IPC error.
        with contextlib.suppress(OSError):
            connection.send(reply)
