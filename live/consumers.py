"""WebSocket: /ws/events/ streams what GET /events/ streams, as JSON text frames."""

import asyncio
import json
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from .grants import Refused, authenticate, check_all_tenants
from .quota import TOO_MANY, slot_free, slot_take
from .stream import OVERFLOW, Subscription, parse_since, process_relay, relay_needed

OVERFLOW_CLOSE_CODE = 4429  # did not keep up: reconnect with ?since=<last event_id>
LIFETIME_CLOSE_CODE = 4408  # the stream's time is up: reconnect with ?since=<last event_id>
# LIVE_STREAMS_PER_USER open already: not 4429, which tells a client to reconnect at once.
TOO_MANY_CLOSE_CODE = 4409


class EventsConsumer(AsyncWebsocketConsumer):
    subscription: Subscription | None = None
    writer: asyncio.Task | None = None
    relay = None
    closing: asyncio.Future | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        try:
            grant = await authenticate(
                session=self.scope.get("session"),
                session_user=self.scope.get("user"),
                authorization=headers.get("authorization", ""),
                token=(query.get("token") or [""])[-1],
            )
            check_all_tenants(grant, (query.get("all") or [None])[-1], self.scope.get("session"))
            since = parse_since((query.get("since") or [None])[-1])
            slot = await slot_take(grant.user.pk)
            if slot is None:
                raise Refused(429, TOO_MANY, close_code=TOO_MANY_CLOSE_CODE)
        except Refused as refused:
            # Accepted to be refused: a close before accepting reaches the client as a bare
            # HTTP 403, without the code.
            await self.accept()
            await self._refuse(refused)
            return
        # The group comes from the authenticated user, never from the client.
        self.subscription = Subscription(grant=grant, slot=slot, kinds=None, since=since)
        self.subscription.on_overflow = self._overflowed
        await self.subscription.begin()
        await self.channel_layer.group_add(self.subscription.group, self.channel_name)
        if relay_needed():
            self.relay = process_relay()
            await self.relay.attach()
        # Accepted once subscribed: whatever is published after the client sees the stream
        # open reaches it, also without a cursor.
        await self.accept()
        self.writer = asyncio.create_task(self._write())

    async def _refuse(self, refused: Refused) -> None:
        await self.send(json.dumps({"type": "error", "detail": refused.detail}))
        # The reason must fit a close frame (123 bytes); the frame before it has the whole text.
        await self.close(code=refused.close_code, reason=refused.detail[:120])

    async def _write(self) -> None:
        async for data in self.subscription.catch_up():
            await self.send(json.dumps(data, default=str))
        async for data in self.subscription.live(30.0):
            if data is not None:
                await self.send(json.dumps(data, default=str))
        ended = self.subscription.ended
        if ended is OVERFLOW:
            await self.close(code=OVERFLOW_CLOSE_CODE)
        elif isinstance(ended, Refused):
            await self._refuse(ended)  # its authorisation ended (live.grants)
        else:
            # Lifetime reached (settings.LIVE_STREAM_MAX_S): the client reconnects with ?since=.
            await self.close(code=LIFETIME_CLOSE_CODE)

    def _overflowed(self) -> None:
        # The writer may be stuck on a client that does not read: stop it, then close.
        if self.writer is not None:
            self.writer.cancel()
        self.closing = asyncio.ensure_future(self.close(code=OVERFLOW_CLOSE_CODE))

    async def event_publish(self, message: dict) -> None:
        """{"type": "event.publish"} from live.broadcast (or the relay)."""
        if self.subscription is not None:
            self.subscription.offer(message)

    event_batch = event_publish  # {"type": "event.batch"}: the events of one publish_many

    async def receive(self, text_data=None, bytes_data=None) -> None:
        pass  # the stream is one-way; what a client sends is ignored

    async def disconnect(self, code: int) -> None:
        if self.writer is not None:
            self.writer.cancel()
        if self.relay is not None:
            self.relay.detach()
            self.relay = None
        if self.subscription is not None:
            await self.channel_layer.group_discard(self.subscription.group, self.channel_name)
            if self.subscription.slot is not None:
                await slot_free(self.subscription.slot)
