"""The host's session directory: the host agent serves its registry on loopback, and every other
process on the host (qcluster workers) asks it for an account's session instead of starting one.
One Python process stays attached to one terminal however many workers trade on it, and it
outlives them. No agent, no session: a worker gets NO_IPC, never a session of its own.

The address is published in var/ (directory_path); the authkey is derived from SECRET_KEY
(directory_authkey), so only processes with the project's settings can ask, and the directory
hands a session's authkey only to callers that passed its own handshake.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import tempfile
import threading
from multiprocessing.connection import Connection, Listener
from pathlib import Path

from django.conf import settings
from django.db import connection as database
from django.utils.crypto import salted_hmac

from terminals.drivers.base import TerminalError

from .client import SessionClient
from .protocol import (
    IPC_RECEIVE,
    IPC_TIMEOUT,
    NO_IPC,
    START_TIMEOUT_S,
    Reply,
    connect_without_delay,
    failure_reply,
    reply_value,
)
from .registry import SessionRegistry

# A directory request may wait for a start in hand: one start, plus a margin.
DIRECTORY_TIMEOUT_S = START_TIMEOUT_S + 15.0
DIRECTORY_PURPOSE = "mt5saas.terminals.sessions.directory"


def directory_authkey(queue: str) -> bytes:
    """The directory's authkey for a host queue: derived from SECRET_KEY, so it is stored
    nowhere and only processes with the project's settings hold it."""
    return salted_hmac(DIRECTORY_PURPOSE, queue, algorithm="sha256").digest()


def directory_path(queue: str) -> Path:
    """Where the host agent of `queue` publishes its directory's address (queue names are slugs)."""
    # A file, not a TerminalHost column: a loopback address means something on this machine
    # only, it changes with every agent start, and reading it costs a worker no database query.
    return Path(settings.VAR_DIR) / f"session-directory-{queue}.json"


def _write_atomically(path: Path, text: str) -> None:
    # A reader sees the old file or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class SessionDirectory:
    """The host agent's registry, served to the host's other processes on loopback.

    A request is an account id; the answer is ("ok", SessionClient) for that account's
    session, started if needed, or the failure start_session raised, as data. Each request
    runs in its own thread, so a slow start holds up only requests for its own account.
    Use as a context manager: open() publishes the address, close() withdraws it.
    """

    def __init__(self, registry: SessionRegistry, queue: str) -> None:
        self.registry, self.queue = registry, queue
        self.path = directory_path(queue)
        self._listener: Listener | None = None
        self._acceptor: threading.Thread | None = None
        self._closed = threading.Event()

    def open(self) -> None:
        self._listener = Listener(("127.0.0.1", 0), authkey=directory_authkey(self.queue))
        self._acceptor = threading.Thread(target=self._accept, args=(self._listener,), name="session-directory")
        self._acceptor.daemon = True
        self._acceptor.start()
        # The pid tells close() whether the file is still this agent's.
        _write_atomically(self.path, json.dumps({"address": list(self._listener.address), "pid": os.getpid()}))

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError, ValueError, KeyError):
            # A newer agent of the same queue may have published its own address meanwhile.
            if json.loads(self.path.read_text())["pid"] == os.getpid():
                self.path.unlink()
        if self._listener is not None:
            # Closing a socket does not wake a thread blocked in accept() on Linux, and the socket
            # keeps listening while it waits: a bare connection (no handshake, nothing waits on
            # it) makes accept() return, and the loop sees _closed and ends.
            with contextlib.suppress(OSError):
                socket.create_connection(self._listener.address, timeout=1).close()
            self._listener.close()
            self._acceptor.join(timeout=5)  # once it has returned, nothing listens on the port

    def __enter__(self) -> SessionDirectory:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self, listener: Listener) -> None:
        while not self._closed.is_set():
            try:
                connection = listener.accept()
            except (multiprocessing.AuthenticationError, EOFError, ConnectionError):
                continue  # a caller without the key, or one that hung up mid-handshake
            except OSError:
                return  # closed
            if self._closed.is_set():
                connection.close()  # close()'s wake-up call, or a caller too late
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: Connection) -> None:
        with connection, contextlib.suppress(EOFError, OSError):
            account_id = connection.recv()
            try:
                reply: Reply = ("ok", self.registry.session(int(account_id)).client.fresh())
            except Exception as error:  # noqa: BLE001 — the asker raises it; the directory serves on
                reply = failure_reply(error)
            finally:
                database.close()  # this thread's own connection: the thread ends here
            connection.send(reply)


def directory_session(queue: str, account_id: int, *, timeout: float = DIRECTORY_TIMEOUT_S) -> SessionClient:
    """The account's session, from the host agent of `queue`. Raises TerminalError: NO_IPC
    when no agent answers (nothing is started here), else the error the session's start
    raised, as start_session would have raised it."""
    not_running = f"the host agent is not running for queue {queue}: no terminal session can be reached"
    try:
        address = tuple(json.loads(directory_path(queue).read_text())["address"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TerminalError(NO_IPC, not_running) from None
    try:
        connection = connect_without_delay(address, directory_authkey(queue))
    except multiprocessing.AuthenticationError:
        raise TerminalError(
            NO_IPC, f"the host agent for queue {queue} refused this process: is SECRET_KEY the same?"
        ) from None
    except (OSError, EOFError):
        # A file left by an agent that died: nobody listens there any more.
        raise TerminalError(NO_IPC, not_running) from None
    with connection:
        try:
            connection.send(account_id)
            if not connection.poll(timeout):
                raise TerminalError(
                    IPC_TIMEOUT, f"the host agent gave no session for account {account_id} within {timeout:g} s"
                )
            reply = connection.recv()
        except (OSError, EOFError):
            raise TerminalError(IPC_RECEIVE, f"the host agent for queue {queue} hung up (did it stop?)") from None
    return reply_value(reply)
