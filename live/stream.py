"""What the SSE view and the WebSocket consumer share: who may subscribe, to what, and the
per-connection delivery (catch-up from the table, then live messages, de-duplicated by id)."""

import asyncio
import logging
import re
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from . import selectors
from .broadcast import STAFF_GROUP, layer_events, layer_message, user_group
from .grants import Grant, Refused
from .quota import Slot, slot_keep

log = logging.getLogger(__name__)

OVERFLOW = object()  # queued after the last message a connection may hold
LIFETIME = object()  # the stream's time (LIVE_STREAM_MAX_S) is up
_EVENT_ID = re.compile(r"[0-9]{1,18}")  # fits a BigAutoField


def parse_since(*values: str | None) -> int:
    """The first given cursor (Last-Event-ID before ?since=); 0 when none. Refused(400) if not a number."""
    for value in values:
        if value is None or value == "":
            continue
        if not _EVENT_ID.fullmatch(value.strip()):
            raise Refused(400, "The event id must be a whole number.")
        return int(value)
    return 0


class RecentIds:
    """The last `size` event ids seen: repeats are dropped without keeping every id forever."""

    def __init__(self, size: int) -> None:
        self.order: deque[int] = deque(maxlen=size)
        self.ids: set[int] = set()

    def add(self, event_id: int) -> bool:
        """False if the id is among the recent ones already."""
        if event_id in self.ids:
            return False
        if len(self.order) == self.order.maxlen:
            self.ids.discard(self.order[0])
        self.order.append(event_id)
        self.ids.add(event_id)
        return True


class Subscription:
    """One client's stream. Messages from the channel layer are offered as they come; the
    queue is bounded (LIVE_QUEUE_SIZE unread events, and one publish's events beyond them at
    most): a client that does not keep up is dropped (OVERFLOW) and comes back with its last
    event id instead of making this process hold an ever longer backlog."""

    def __init__(self, *, grant: Grant, slot: Slot | None, kinds: frozenset[str] | None, since: int) -> None:
        # Called once on overflow: the writer may be stuck sending to a client that does not read.
        self.on_overflow: Callable[[], None] | None = None
        self.grant, self.slot = grant, slot
        self.user, self.all_tenants, self.kinds, self.since = grant.user, grant.all_tenants, kinds, since
        # Why live() stopped: LIFETIME, OVERFLOW, or a Refused when its authorisation ended.
        self.ended: object | Refused = LIFETIME
        self.group = STAFF_GROUP if self.all_tenants else user_group(self.user.pk)
        self.limit: int = getattr(settings, "LIVE_QUEUE_SIZE", 500)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.overflowed = False
        # Each event comes once per path (direct and through the relay), and a resume replays
        # some: remember recent ids. Ids at or below `since` are not dropped as such: one
        # committed late (after a higher id reached the client) arrives with a lower id.
        self.seen = RecentIds(4096)
        if since:
            self.seen.add(since)  # the client has this one: it is never sent again
        self.start: int | None = None  # without `since`: the newest stored id when it began

    async def begin(self) -> None:
        """Called before the stream joins its group. Without a cursor it starts at the newest
        stored event, so what is published while it joins comes with the catch-up."""
        if not self.since:
            try:
                self.start = await database_sync_to_async(selectors.event_latest_id)(
                    user=None if self.all_tenants else self.user
                )
            except DatabaseError:  # a database that is down: live events still come
                log.warning("live stream: could not read the event table", exc_info=True)

    def offer(self, message: dict) -> None:
        """A channel-layer message: one event or the events of one publish, taken whole (the
        limit bounds what the client leaves unread, not the size of a publish)."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            self.queue.put_nowait(OVERFLOW)
            if self.on_overflow is not None:
                self.on_overflow()
            return
        for event in layer_events(message):
            self.queue.put_nowait(event)

    def frame(self, message: dict) -> dict | None:
        """The client's JSON for a layer message; None for a duplicate or another kind."""
        event_id, payload = message.get("id"), message.get("payload") or {}
        if not isinstance(event_id, int) or (self.kinds and payload.get("type") not in self.kinds):
            return None
        if not self.all_tenants and message.get("owner", self.user.pk) != self.user.pk:
            return None  # belt and braces: the group is the user's own
        if not self.seen.add(event_id):
            return None
        data = {"event_id": event_id, **payload}
        if self.all_tenants:
            data["owner"] = message.get("owner")
        return data

    async def catch_up(self) -> AsyncIterator[dict]:
        """Stored events after `since`, in pages (called after subscribing: no gap at the seam),
        starting a little before it: see selectors.event_resume_cursor. At least once, in id
        order; clients keep events by `event_id`. Without `since`: what came after `begin`."""
        if self.since:
            cursor = await database_sync_to_async(selectors.event_resume_cursor)(
                user=self.user,
                since=self.since,
                all_tenants=self.all_tenants,
                kinds=self.kinds,
                lookback_s=settings.LIVE_RESUME_LOOKBACK_S,
            )
        elif self.start is not None:
            cursor = self.start
        else:
            return
        while True:
            rows = await database_sync_to_async(selectors.event_list_after)(
                user=self.user, since=cursor, all_tenants=self.all_tenants, kinds=self.kinds
            )
            for row in rows:
                cursor = row.pk
                data = self.frame(_stored_message(row))
                if data is not None:
                    yield data
            if len(rows) < 500:
                return

    async def next(self, timeout: float) -> dict | object | None:
        """The next fresh event, None after `timeout` seconds without one, or OVERFLOW."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                message = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return None
            if message is OVERFLOW:
                return OVERFLOW
            data = self.frame(message)
            if data is not None:
                return data

    async def live(self, heartbeat: float) -> AsyncIterator[dict | None]:
        """Fresh events as they come, None after `heartbeat` seconds without one, until the
        stream's lifetime is up, the client falls behind, or what authorised it ends (`ended`
        says which). The authorisation is checked again every LIVE_AUTH_RECHECK_S on this
        loop's own timer (see live.grants): an event costs no query."""
        loop = asyncio.get_running_loop()
        every: float = settings.LIVE_AUTH_RECHECK_S
        now = loop.time()
        ends, check_at, beat_at = now + settings.LIVE_STREAM_MAX_S, now + every, now + heartbeat
        while (now := loop.time()) < ends:
            if now >= check_at:
                if (refused := await self.grant.recheck()) is not None:
                    self.ended = refused
                    return
                if self.slot is not None:
                    await slot_keep(self.slot)
                check_at = loop.time() + every
            elif now >= beat_at:
                beat_at = now + heartbeat
                yield None
                continue
            data = await self.next(max(0.0, min(ends, check_at, beat_at) - loop.time()))
            if data is OVERFLOW:
                self.ended = OVERFLOW
                return
            if data is not None:
                beat_at = loop.time() + heartbeat
                yield data
        self.ended = LIFETIME


def _stored_message(row) -> dict:
    return layer_message(event_id=row.pk, owner_id=row.owner_id, kind=row.kind, payload=row.payload)


# --- the relay: other processes' events into this process's in-memory layer ---------------


class Relay:
    """With the in-memory channel layer, events published by a qcluster worker or the host
    agent never reach this process's layer. One relay per process (not per client) tails the
    event table while any client is connected and sends the new rows to their groups; the
    clients drop what they already got directly by id."""

    LOOKBACK = 64  # PostgreSQL may commit a lower id after a higher one: look back a little

    def __init__(self) -> None:
        self.clients = 0
        self.task: asyncio.Task | None = None
        self.ready: asyncio.Event | None = None
        self.cursor = 0
        self.relayed = RecentIds(8192)  # sent, or found in the table at the start

    async def attach(self) -> None:
        """Count a client in; returns once the relay has its starting point, so that the
        client's own catch-up read (after this) and the relay's tail leave no gap."""
        self.clients += 1
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._run())
        await self.ready.wait()

    def detach(self) -> None:
        self.clients = max(0, self.clients - 1)

    async def _run(self) -> None:
        interval: float = getattr(settings, "LIVE_RELAY_INTERVAL", 0.2)
        try:
            self.cursor = await database_sync_to_async(selectors.event_latest_id)()
            # What is already in the table went out before this relay started: the clients
            # read it in their catch-up, not again from here.
            for row in await database_sync_to_async(selectors.event_rows_after)(since=self.cursor - self.LOOKBACK):
                self.relayed.add(row.pk)
        except Exception:  # a database that is down: the clients still get direct events
            log.warning("live relay: could not read the event table", exc_info=True)
        self.ready.set()
        layer = get_channel_layer()
        while self.clients > 0:
            await asyncio.sleep(interval)
            try:
                rows = await database_sync_to_async(selectors.event_rows_after)(since=self.cursor - self.LOOKBACK)
            except Exception:  # logged; the next round tries again
                log.warning("live relay: reading new events failed", exc_info=True)
                continue
            for row in rows:
                self.cursor = max(self.cursor, row.pk)
                if not self.relayed.add(row.pk):
                    continue
                message = _stored_message(row)
                await layer.group_send(user_group(row.owner_id), message)
                await layer.group_send(STAFF_GROUP, message)


_relays: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Relay]" = weakref.WeakKeyDictionary()


def relay_needed() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer) and getattr(settings, "LIVE_RELAY_INTERVAL", 0.2) > 0


def process_relay() -> Relay:
    loop = asyncio.get_running_loop()
    if loop not in _relays:
        _relays[loop] = Relay()
    return _relays[loop]
