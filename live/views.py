"""SSE: GET /events/ (every kind) and GET /events/copy-trades (copy events only)."""

import asyncio
import json
from collections.abc import AsyncIterator

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

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

COPY_KINDS = frozenset({"copy_event"})


def _sse(data: dict) -> bytes:
    return f"id: {data['event_id']}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


async def _stream(subscription: Subscription) -> AsyncIterator[bytes]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    relay = process_relay() if relay_needed() else None

    async def pump() -> None:
        while True:
            subscription.offer(await layer.receive(channel))

    # The task sending this response: cancelling it ends the response and closes the connection.
    subscription.on_overflow = asyncio.current_task().cancel
    await subscription.begin()
    await layer.group_add(subscription.group, channel)
    pumping = asyncio.create_task(pump())
    heartbeat: float = getattr(settings, "LIVE_HEARTBEAT_S", 15.0)
    try:
        if relay is not None:
            await relay.attach()
        # Sent at once: the client knows it is connected, and how soon to come back.
        yield b"retry: 2000\n: connected\n\n"
        async for data in subscription.catch_up():
            yield _sse(data)
        loop = asyncio.get_running_loop()
        ends = loop.time() + settings.LIVE_STREAM_MAX_S
        while (left := ends - loop.time()) > 0:
            data = await subscription.next(min(heartbeat, left))
            if data is OVERFLOW:
                # Dropped for not keeping up; EventSource reconnects with Last-Event-ID.
                return
            yield _sse(data) if data is not None else b": keep-alive\n\n"
        # Lifetime reached: EventSource comes back after `retry` with Last-Event-ID.
    finally:
        # Runs when the client leaves too (Django cancels the response on http.disconnect).
        pumping.cancel()
        if relay is not None:
            relay.detach()
        await layer.group_discard(subscription.group, channel)


async def _events(request: HttpRequest, kinds: frozenset[str] | None) -> HttpResponse:
    if request.method != "GET":
        return JsonResponse({"detail": "Use GET."}, status=405, headers={"Allow": "GET"})
    try:
        user = await authenticate(
            session_user=await request.auser(), authorization=request.headers.get("Authorization", "")
        )
        all_tenants = check_all_tenants(user, request.GET.get("all"))
        since = parse_since(request.headers.get("Last-Event-ID"), request.GET.get("since"))
    except Refused as refused:
        return JsonResponse({"detail": refused.detail}, status=refused.status)
    if not isinstance(request, ASGIRequest):
        # A WSGI server cannot stream: Django would collect the endless stream in memory and
        # hold the worker forever. 204 tells EventSource not to reconnect (WHATWG SSE).
        return HttpResponse(status=204)
    subscription = Subscription(user=user, all_tenants=all_tenants, kinds=kinds, since=since)
    response = StreamingHttpResponse(_stream(subscription), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def events(request: HttpRequest) -> HttpResponse:
    return await _events(request, None)


async def copy_trade_events(request: HttpRequest) -> HttpResponse:
    return await _events(request, COPY_KINDS)
