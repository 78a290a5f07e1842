"""Sends each published event to its owner's and the staff channel-layer group after commit:
the one sender to browsers and scripts (subscribed to mt5saas.events in LiveConfig.ready())."""

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from mt5saas.events import PublishedEvent

log = logging.getLogger(__name__)

STAFF_GROUP = "staff"
SEND_TIMEOUT_S = 2.0

Send = Callable[[], Coroutine]


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def layer_message(*, event_id: int, owner_id: int, kind: str, payload: dict) -> dict:
    """One event as the consumers read it from the channel layer ("event.publish")."""
    return {"type": "event.publish", "id": event_id, "owner": owner_id, "payload": {"type": kind, **payload}}


def layer_events(message: dict) -> list[dict]:
    """The "event.publish" messages a channel-layer message carries: itself, or the events
    of an "event.batch" (one publish_many)."""
    return message.get("events", []) if message.get("type") == "event.batch" else [message]


def events_broadcast(user_id: int, events: list[PublishedEvent]) -> None:
    """mt5saas.events subscriber: one publish's events, in one message to each group."""
    messages = [
        layer_message(event_id=event.id, owner_id=user_id, kind=event.kind, payload=event.payload) for event in events
    ]
    # Several events go as one message a group: a master event with 50 slaves publishes 51
    # at once, and its drains as many again twice; one message each cost two layer round
    # trips apiece and could overflow a listener's channel (it holds 100) a moment behind.
    message = messages[0] if len(messages) == 1 else {"type": "event.batch", "events": messages}

    async def send_to_groups() -> None:
        layer = get_channel_layer()
        await layer.group_send(user_group(user_id), message)
        await layer.group_send(STAFF_GROUP, message)

    layer = get_channel_layer()
    # The in-memory layer reaches only this process's consumers: with none listening (a
    # task worker), sending would only start a loop for nothing.
    if isinstance(layer, InMemoryChannelLayer) and not layer.groups:
        return
    _hand_over(send_to_groups)


def events_flush(timeout: float = SEND_TIMEOUT_S) -> bool:
    """Wait until this process has sent what it published; False on timeout."""
    done = threading.Event()

    async def mark() -> None:
        done.set()

    _hand_over(mark)
    return done.wait(timeout)


class _SenderThread:
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

    def submit(self, send: Send) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, send)


_sender: _SenderThread | None = None
_sender_pid = 0
_sender_lock = threading.Lock()


def _process_sender() -> _SenderThread:
    global _sender, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid():  # a forked worker needs its own thread
            _sender, _sender_pid = _SenderThread(), os.getpid()
        return _sender


async def _send_logged(send: Send) -> None:
    try:
        await send()
    except Exception:  # logged; events tell what happened, they must not undo it
        log.warning("publishing events failed", exc_info=True)


_sending: set[asyncio.Task] = set()  # the loop keeps only weak references to its tasks


def _start_on_loop(loop: asyncio.AbstractEventLoop, send: Send) -> None:
    task = loop.create_task(_send_logged(send))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


def _hand_over(send: Send) -> None:
    """Run `send` where the layer's connections live, without waiting for it where possible."""
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        _process_sender().submit(send)
        return
    # The in-memory layer's queues belong to the server's own loop. In a request, hand the send
    # to that loop and go on (tasks start in the order handed over); elsewhere, wait for it.
    server_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if server_loop is not None and server_loop.is_running():
        server_loop.call_soon_threadsafe(_start_on_loop, server_loop, send)
    else:
        async_to_sync(_send_logged)(send)
