"""SSE: GET /events/ (every kind) and GET /events/copy-trades (copy events only)."""

import asyncio
import json
from collections.abc import AsyncIterator

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from .grants import Refused, authenticate, check_all_tenants
from .quota import TOO_MANY, slot_free, slot_take
from .stream import Subscription, parse_since, process_relay, relay_needed

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
        async for data in subscription.live(heartbeat):
            yield _sse(data) if data is not None else b": keep-alive\n\n"
        # Lifetime reached: EventSource comes back after `retry` with Last-Event-ID. Dropped
        # for not keeping up (OVERFLOW): the same. Its authorisation ended: the comment says
        # why, and the reconnection is refused with the status.
        if isinstance(subscription.ended, Refused):
            yield f": ended: {subscription.ended.detail}\n\n".encode()
    finally:
        # Runs when the client leaves too (Django cancels the response on http.disconnect).
        pumping.cancel()
        if relay is not None:
            relay.detach()
        await layer.group_discard(subscription.group, channel)
        if subscription.slot is not None:
            await slot_free(subscription.slot)


async def _events(request: HttpRequest, kinds: frozenset[str] | None) -> HttpResponse:
    if request.method != "GET":
        return JsonResponse({"detail": "Use GET."}, status=405, headers={"Allow": "GET"})
    try:
        grant = await authenticate(
            session=request.session,
            session_user=await request.auser(),
            authorization=request.headers.get("Authorization", ""),
        )
        check_all_tenants(grant, request.GET.get("all"), request.session)
        since = parse_since(request.headers.get("Last-Event-ID"), request.GET.get("since"))
    except Refused as refused:
        return JsonResponse({"detail": refused.detail}, status=refused.status)
    if not isinstance(request, ASGIRequest):
        # A WSGI server cannot stream: Django would collect the endless stream in memory and
        # hold the worker forever. 204 tells EventSource not to reconnect (WHATWG SSE).
        return HttpResponse(status=204)
    # Freed when the stream ends; a response that never starts frees it on expiry (live.quota).
    slot = await slot_take(grant.user.pk)
    if slot is None:
        return JsonResponse({"detail": TOO_MANY}, status=429, headers={"Retry-After": "10"})
    subscription = Subscription(grant=grant, slot=slot, kinds=kinds, since=since)
    response = StreamingHttpResponse(_stream(subscription), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def events(request: HttpRequest) -> HttpResponse:
    return await _events(request, None)


async def copy_trade_events(request: HttpRequest) -> HttpResponse:
    return await _events(request, COPY_KINDS)
