"""The one way anything is published to browsers and scripts: a user's channel-layer group."""

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

STAFF_GROUP = "staff"
SEND_TIMEOUT_S = 2.0
# Called after the publisher's commit with (user_id, events); the alerts app appends one. A
# hook must return at once: it runs on the publisher's path (a request, an order's worker).
after_publish: list[Callable[[int, list[tuple[str, dict]]], None]] = []


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish_to_user(user_id: int, kind: str, payload: dict) -> None:
    """Store now, send after the surrounding transaction commits: nobody sees a rolled-back state."""
    publish_many(user_id, [(kind, payload)])


def publish_many(user_id: int, events: list[tuple[str, dict]]) -> None:
    """Several events of one user, in order: stored in one INSERT inside the caller's transaction
    (a rolled-back order leaves no event), sent after the commit in one message to each group
    (layer_events reads it). Each event carries its stored id, the stream id that clients
    resume from."""
    if not events:
        return
    from live.services import events_store  # the live app's models load after this module

    ids = events_store(owner_id=user_id, events=events)
    for hook in after_publish:
        transaction.on_commit(lambda hook=hook: hook(user_id, events), robust=True)
    messages = [
        {"type": "event.publish", "id": event_id, "owner": user_id, "payload": {"type": kind, **payload}}
        for event_id, (kind, payload) in zip(ids, events, strict=True)
    ]
    # Several events go as one message a group: a master event with 50 slaves publishes 51
    # at once, and its drains as many again twice; one message each cost two layer round
    # trips apiece and could overflow a listener's channel (it holds 100) a moment behind.
    message = messages[0] if len(messages) == 1 else {"type": "event.batch", "events": messages}

    async def send_all() -> None:
        layer = get_channel_layer()
        await layer.group_send(user_group(user_id), message)
        await layer.group_send(STAFF_GROUP, message)

    def send() -> None:
        layer = get_channel_layer()
        # The in-memory layer reaches only this process's consumers: with none listening (a
        # task worker), sending would only start a loop for nothing.
        if isinstance(layer, InMemoryChannelLayer) and not layer.groups:
            return
        _run(send_all)

    transaction.on_commit(send)


def layer_events(message: dict) -> list[dict]:
    """The "event.publish" messages a channel-layer message carries: itself, or the events
    of an "event.batch" (one publish_many)."""
    return message.get("events", []) if message.get("type") == "event.batch" else [message]


def publish_each(events: Iterable[tuple[int, str, dict]]) -> None:
    """Events of several users, each (user id, kind, payload): publish_many once per user, in order."""
    by_user: dict[int, list[tuple[str, dict]]] = {}
    for user_id, kind, payload in events:
        by_user.setdefault(user_id, []).append((kind, payload))
    for user_id, grouped in by_user.items():
        publish_many(user_id, grouped)


class _Sender:
    """A thread with its own event loop that sends this process's events one batch after
    another, in the order published, while the publisher goes on. async_to_sync would make
    a new loop per call outside a server, and channels-redis a new connection per loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        threading.Thread(target=self.loop.run_until_complete, args=(self._consume(),), daemon=True).start()

    async def _consume(self) -> None:
        while True:
            send = await self.queue.get()
            try:
                await asyncio.wait_for(send(), SEND_TIMEOUT_S)
            except Exception:  # logged; a layer that is down must not stop the next batch
                log.warning("publishing events failed", exc_info=True)

    def submit(self, send: Callable[[], Coroutine]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, send)


_sender: _Sender | None = None
_sender_pid = 0
_sender_lock = threading.Lock()


def _process_sender() -> _Sender:
    global _sender, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid():  # a forked worker needs its own thread
            _sender, _sender_pid = _Sender(), os.getpid()
        return _sender


async def _logged(send: Callable[[], Coroutine]) -> None:
    try:
        await send()
    except Exception:  # logged; events tell what happened, they must not undo it
        log.warning("publishing events failed", exc_info=True)


_sending: set[asyncio.Task] = set()  # the loop keeps only weak references to its tasks


def _start(loop: asyncio.AbstractEventLoop, send: Callable[[], Coroutine]) -> None:
    task = loop.create_task(_logged(send))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


class HeldEvents:
    """Sends kept back by events_held(), handed over together by release() (once)."""

    def __init__(self) -> None:
        self.sends: list[Callable[[], Coroutine]] = []
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        sends, self.sends = self.sends, []
        if sends:

            async def send_in_order() -> None:
                for send in sends:
                    await _logged(send)

            _dispatch(send_in_order)


_held: ContextVar[HeldEvents | None] = ContextVar("events_held", default=None)


@contextmanager
def events_held() -> Iterator[HeldEvents]:
    """Events committed inside the block are stored as ever but sent only on release().

    For a reply whose time is promised: handing a send to the event loop from the request's
    thread wakes the loop, which then holds the GIL while the reply waits to be written. The
    caller releases after the reply has left; an error in the block releases at once.
    """
    held = HeldEvents()
    token = _held.set(held)
    try:
        yield held
    except BaseException:
        held.release()
        raise
    finally:
        _held.reset(token)


def _run(send: Callable[[], Coroutine]) -> None:
    if (held := _held.get()) is not None and not held.released:
        held.sends.append(send)
        return
    _dispatch(send)


def _dispatch(send: Callable[[], Coroutine]) -> None:
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        _process_sender().submit(send)
        return
    # The in-memory layer's queues belong to the server's own loop. In a request, hand the send
    # to that loop and go on (tasks start in the order handed over); elsewhere, wait for it.
    server_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if server_loop is not None and server_loop.is_running():
        server_loop.call_soon_threadsafe(_start, server_loop, send)
    else:
        async_to_sync(_logged)(send)


def events_flush(timeout: float = SEND_TIMEOUT_S) -> bool:
    """Wait until this process has sent what it published; False on timeout."""
    done = threading.Event()

    async def mark() -> None:
        done.set()

    _dispatch(mark)
    return done.wait(timeout)
