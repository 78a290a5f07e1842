"""At most LIVE_STREAMS_PER_USER open streams per user, SSE and WebSocket together: the next is
refused with 429 (SSE) or closed with 4409 (WebSocket), each with its reason; counted across
processes in Redis when REDIS_URL is set, where a dead process's slots expire."""

import asyncio
import json
import shutil
import time

import pytest
import redis

from tests.live.conftest import SSE, arun, token_for
from tests.live.test_websocket import connect
from tests.test_fault_outages import RedisServer


async def opened(path: str, headers: dict[str, str]) -> tuple[SSE, int, bytes]:
    stream = SSE(path, headers)
    status, _ = await stream.open()
    return stream, status, await stream.body()


async def ws_refused(path: str) -> tuple[int, str, dict]:
    ws = connect(path)
    assert (await ws.connect())[0]
    frame = await ws.receive_json_from(5)
    close = await ws.receive_output(5)
    return close["code"], close.get("reason", ""), frame


async def streams_over_the_limit(key: str, other_key: str) -> dict:
    auth = {"authorization": f"Token {key}"}
    first, first_status, _ = await opened("/events/", auth)
    ws = connect(f"/ws/events/?token={key}")  # the second: a socket, counted with the streams
    assert (await ws.connect())[0] and await ws.receive_nothing(0.2)
    third, third_status, third_body = await opened("/events/copy-trades", auth)
    refused_ws = await ws_refused(f"/ws/events/?token={key}")
    others, others_status, _ = await opened("/events/", {"authorization": f"Token {other_key}"})
    await first.close()
    again, again_status, _ = await opened("/events/", auth)  # a closed stream frees its place
    for stream in (third, others, again):
        await stream.close()
    await ws.disconnect()
    return {
        "statuses": (first_status, third_status, others_status, again_status),
        "third_body": json.loads(third_body),
        "refused_ws": refused_ws,
    }


def test_the_stream_over_the_users_limit_is_refused_and_others_are_not(trader, other, settings):
    settings.LIVE_STREAMS_PER_USER = 2
    got = arun(streams_over_the_limit(token_for(trader), token_for(other)))
    assert got["statuses"] == (200, 429, 200, 200)
    assert "LIVE_STREAMS_PER_USER" in got["third_body"]["detail"]
    code, reason, frame = got["refused_ws"]
    assert code == 4409 and "Too many streams" in reason and frame["type"] == "error"


@pytest.fixture
def redis_url(tmp_path, settings):
    if not shutil.which("redis-server"):
        pytest.skip("needs a redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    settings.REDIS_URL = server.url  # the stream count only: the channel layer stays as it is
    try:
        yield server.url
    finally:
        server.stop()


def test_with_redis_streams_are_counted_across_processes_and_a_dead_ones_expire(trader, settings, redis_url):
    settings.LIVE_STREAMS_PER_USER = 2
    key = token_for(trader)
    slots = f"mt5saas:live:streams:{trader.pk}"
    client = redis.Redis.from_url(redis_url)
    # Another daphne process holds one of the trader's streams; one that died left a slot behind.
    client.zadd(slots, {"elsewhere": time.time() + 60, "dead-process": time.time() - 1})

    async def go():
        auth = {"authorization": f"Token {key}"}
        mine, mine_status, _ = await opened("/events/", auth)
        held = client.zcard(slots)
        over, over_status, over_body = await opened("/events/", auth)
        await over.close()
        await mine.close()
        await asyncio.sleep(0.1)
        return mine_status, held, over_status, json.loads(over_body), client.zrange(slots, 0, -1)

    mine_status, held, over_status, over_body, left = arun(go())
    assert mine_status == 200 and held == 2  # the dead process's slot was dropped, not counted
    assert over_status == 429 and "LIVE_STREAMS_PER_USER" in over_body["detail"]
    assert left == [b"elsewhere"]  # this process freed its own slot when the stream ended
