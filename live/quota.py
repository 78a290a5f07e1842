"""At most LIVE_STREAMS_PER_USER open streams (SSE and WebSocket together) per user.

Each open stream holds a slot that expires unless its stream renews it (at every authorisation
re-check, see live.grants): a process that dies, or a response that never started, frees its
slots after SLOT_TTL_S without anyone cleaning up. With REDIS_URL the slots are a sorted set per
user in Redis, counted across every daphne process; without it (the embedded stack, one process)
they are kept in this process's memory."""

import asyncio
import logging
import time
import uuid
import weakref

import redis
import redis.asyncio
from django.conf import settings

log = logging.getLogger(__name__)

SLOT_TTL_MIN_S = 30.0
TOO_MANY = "Too many streams open for this user (LIVE_STREAMS_PER_USER): close one before opening another."

# Drops expired slots, then adds this one if there is room: one atomic step in Redis.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def slot_ttl() -> float:
    """Several re-checks long: a slot outlives a slow round, never a dead process by much."""
    return max(SLOT_TTL_MIN_S, 6 * settings.LIVE_AUTH_RECHECK_S)


class Slot:
    """One stream's place among its user's streams."""

    def __init__(self, user_id: int, store: "_Memory | _Redis") -> None:
        self.user_id, self.store, self.id = user_id, store, uuid.uuid4().hex
        self.held = False

    async def keep(self) -> None:
        if self.held:
            await self.store.keep(self)

    async def free(self) -> None:
        if self.held:
            self.held = False
            await self.store.free(self)


class _Memory:
    def __init__(self) -> None:
        self.slots: dict[int, dict[str, float]] = {}

    async def take(self, slot: Slot, limit: int) -> bool:
        now, mine = time.monotonic(), self.slots.setdefault(slot.user_id, {})
        for other, expires in list(mine.items()):
            if expires <= now:
                del mine[other]
        if len(mine) >= limit:
            return False
        mine[slot.id] = now + slot_ttl()
        return True

    async def keep(self, slot: Slot) -> None:
        self.slots.setdefault(slot.user_id, {})[slot.id] = time.monotonic() + slot_ttl()

    async def free(self, slot: Slot) -> None:
        mine = self.slots.get(slot.user_id, {})
        mine.pop(slot.id, None)
        if not mine:
            self.slots.pop(slot.user_id, None)


class _Redis:
    def __init__(self, url: str) -> None:
        self.client = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    @staticmethod
    def key(user_id: int) -> str:
        return f"mt5saas:live:streams:{user_id}"

    async def take(self, slot: Slot, limit: int) -> bool:
        now, ttl = time.time(), slot_ttl()
        taken = await self.client.eval(_TAKE, 1, self.key(slot.user_id), now, now + ttl, limit, slot.id, int(ttl) + 1)
        return bool(taken)

    async def keep(self, slot: Slot) -> None:
        ttl = slot_ttl()
        async with self.client.pipeline(transaction=True) as pipe:
            await (
                pipe.zadd(self.key(slot.user_id), {slot.id: time.time() + ttl})
                .expire(self.key(slot.user_id), int(ttl) + 1)
                .execute()
            )

    async def free(self, slot: Slot) -> None:
        await self.client.zrem(self.key(slot.user_id), slot.id)


# One store per event loop (a Redis client's connections belong to the loop that made them).
_stores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Memory | _Redis]]" = (
    weakref.WeakKeyDictionary()
)
_memory = _Memory()  # the embedded stack: one process, one count whatever the loop


def _store() -> "_Memory | _Redis":
    url = settings.REDIS_URL
    if not url:
        return _memory
    stores = _stores.setdefault(asyncio.get_running_loop(), {})
    if url not in stores:
        stores[url] = _Redis(url)
    return stores[url]


async def slot_take(user_id: int) -> Slot | None:
    """A slot for a new stream of this user's, None when LIVE_STREAMS_PER_USER are open. Redis
    unreachable: the stream is let through (logged); the limit guards memory, not access."""
    slot = Slot(user_id, _store())
    try:
        slot.held = await slot.store.take(slot, settings.LIVE_STREAMS_PER_USER)
    except redis.RedisError:
        log.warning("live streams: could not count the user's streams in Redis", exc_info=True)
        return slot
    return slot if slot.held else None


async def slot_keep(slot: Slot) -> None:
    try:
        await slot.keep()
    except redis.RedisError:
        log.warning("live streams: could not renew a stream's slot in Redis", exc_info=True)


async def slot_free(slot: Slot) -> None:
    try:
        await slot.free()
    except redis.RedisError:
        log.warning("live streams: could not free a stream's slot in Redis", exc_info=True)
