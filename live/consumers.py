"""WebSocket: /ws/events/ streams what GET /events/ streams, as JSON text frames."""

import asyncio
import json
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from .stream import (
    OVERFLOW,
    Refused,
    Subscription,
    authenticate,
    check_all_tenants,
    parse_since,
    process_relay,
    relay_needed,
)

OVERFLOW_CLOSE_CODE = 4429  # did not keep up: reconnect with ?since=<last event_id>
LIFETIME_CLOSE_CODE = 4408  # the stream's time is up: reconnect with ?since=<last event_id>


class EventsConsumer(AsyncWebsocketConsumer):
    subscription: Subscription | None = None
    writer: asyncio.Task | None = None
    relay = None
    closing: asyncio.Future | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        # Accepted first: a close before accepting reaches the client as a bare HTTP 403, without the code.
        await self.accept()
        try:
            user = await authenticate(
                session_user=self.scope.get("user"),
                authorization=headers.get("authorization", ""),
                token=(query.get("token") or [""])[-1],
            )
            all_tenants = check_all_tenants(user, (query.get("all") or [None])[-1])
            since = parse_since((query.get("since") or [None])[-1])
        except Refused as refused:
            await self.send(json.dumps({"type": "error", "detail": refused.detail}))
            await self.close(code=4000 + refused.status)
            return
        # The group comes from the authenticated user, never from the client.
        self.subscription = Subscription(user=user, all_tenants=all_tenants, kinds=None, since=since)
        self.subscription.on_overflow = self._overflowed
        await self.subscription.begin()
        await self.channel_layer.group_add(self.subscription.group, self.channel_name)
        if relay_needed():
            self.relay = process_relay()
            await self.relay.attach()
        self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        async for data in self.subscription.catch_up():
            await self.send(json.dumps(data, default=str))
        loop = asyncio.get_running_loop()
        ends = loop.time() + settings.LIVE_STREAM_MAX_S
        while (left := ends - loop.time()) > 0:
            data = await self.subscription.next(min(30.0, left))
            if data is OVERFLOW:
                await self.close(code=OVERFLOW_CLOSE_CODE)
                return
            if data is not None:
                await self.send(json.dumps(data, default=str))
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
