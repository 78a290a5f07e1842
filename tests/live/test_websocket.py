"""/ws/events/: the same stream over a WebSocket, refusals as close codes."""

import pytest
from asgiref.sync import sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from live.models import Event
from mt5saas import backing_services
from mt5saas.events import publish_many
from tests.live.conftest import Socket, arun, run, session_cookie, token_for

publish = sync_to_async(publish_many)


def connect(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Socket:
    base = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    return Socket(path, base + (headers or []))


async def close_code(communicator: Socket) -> int:
    connected, _ = await communicator.connect()
    assert connected
    while True:
        message = await communicator.receive_output(5)
        if message["type"] == "websocket.close":
            return message["code"]


def closed_with(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int:
    return arun(close_code(connect(path, headers)))


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/ws/events/", 4401),
        ("/ws/events/?token=mt5_00112233445566778899", 4401),
    ],
)
def test_anonymous_is_closed_with_4401(transactional_db, path, code):
    assert closed_with(path) == code


def test_bad_since_is_closed_with_4400_and_all_for_a_trader_with_4403(trader):
    cookie = [(b"cookie", session_cookie(trader))]
    assert closed_with("/ws/events/?since=x1", cookie) == 4400
    assert closed_with("/ws/events/?all=1", cookie) == 4403


def test_disabled_token_user_is_closed_with_4403(trader):
    key = token_for(trader)
    trader.is_active = False
    trader.save()
    assert closed_with(f"/ws/events/?token={key}") == 4403


def test_token_since_catch_up_then_live_and_nobody_elses(trader, other):
    key = token_for(trader)
    publish_many(trader.pk, [("order", {"id": 1}), ("order", {"id": 2})])
    first = Event.objects.filter(owner=trader).order_by("id").first().pk

    async def go():
        ws = connect(f"/ws/events/?since={first}", [(b"authorization", f"Token {key}".encode())])
        connected, _ = await ws.connect()
        assert connected
        caught_up = await ws.receive_json_from(5)
        await publish(other.pk, [("order", {"id": 99})])
        await publish(trader.pk, [("account", {"account": 5, "balance": "10.00"})])
        live = await ws.receive_json_from(5)
        quiet = await ws.receive_nothing(0.4)
        await ws.disconnect()
        return caught_up, live, quiet

    caught_up, live, quiet = run(go)
    assert caught_up["id"] == 2 and caught_up["event_id"] > first
    assert live["type"] == "account" and live["event_id"] > caught_up["event_id"]
    assert quiet  # no duplicate from the relay, nothing of the other trader's


def test_the_events_of_one_publish_arrive_each_as_a_frame_in_order(trader):
    cookie = [(b"cookie", session_cookie(trader))]

    async def go():
        ws = connect("/ws/events/?since=0", cookie)
        assert (await ws.connect())[0]
        await publish(trader.pk, [("copy_event", {"id": 1}), ("order", {"id": 10}), ("order", {"id": 11})])
        got = [await ws.receive_json_from(5) for _ in range(3)]
        quiet = await ws.receive_nothing(0.4)
        await ws.disconnect()
        return got, quiet

    got, quiet = run(go)
    assert [(frame["type"], frame["id"]) for frame in got] == [("copy_event", 1), ("order", 10), ("order", 11)]
    assert [frame["event_id"] for frame in got] == sorted(frame["event_id"] for frame in got)
    assert quiet  # each once, whether it came from the layer or the relay


def test_a_publish_larger_than_the_streams_queue_reaches_a_reading_client_whole(trader, settings):
    # The queue bounds what a client leaves unread, not what one publish holds (a master
    # with more slaves than LIVE_QUEUE_SIZE publishes more events than that at once).
    settings.LIVE_QUEUE_SIZE = 20
    cookie = [(b"cookie", session_cookie(trader))]

    async def go():
        ws = connect("/ws/events/?since=0", cookie)
        assert (await ws.connect())[0]
        await publish(trader.pk, [("order", {"id": n}) for n in range(50)])
        got = [await ws.receive_json_from(5) for _ in range(50)]
        quiet = await ws.receive_nothing(0.4)
        await ws.disconnect()
        return got, quiet

    got, quiet = run(go)
    assert [frame["id"] for frame in got] == list(range(50))
    assert quiet  # still open: no close code after the last frame


def test_session_user_gets_live_events(trader):
    cookie = [(b"cookie", session_cookie(trader))]

    async def go():
        # since=0 (no cursor): the socket is accepted once it has joined the group, so an
        # event published right after the handshake reaches it.
        ws = connect("/ws/events/?since=0", cookie)
        assert (await ws.connect())[0]
        await publish(trader.pk, [("alert", {"message": "hello"})])
        got = await ws.receive_json_from(5)
        await ws.disconnect()
        return got

    assert run(go)["message"] == "hello"


def test_a_socket_is_closed_after_its_lifetime_with_4408(trader, settings):
    settings.LIVE_STREAM_MAX_S = 0.3
    assert closed_with("/ws/events/", [(b"cookie", session_cookie(trader))]) == 4408


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer's blocking read (REDIS_URL)")
def test_a_socket_quiet_for_longer_than_the_layers_blocking_read_stays_open(trader):
    # channels-redis waits for a consumer's next message with a blocking pop of brpop_timeout
    # seconds; a Redis client reading with a shorter socket timeout killed every quiet consumer.
    quiet_s = RedisChannelLayer.brpop_timeout + 1.5
    cookie = [(b"cookie", session_cookie(trader))]

    async def go():
        ws = connect("/ws/events/", cookie)
        assert (await ws.connect())[0]
        quiet = await ws.receive_nothing(quiet_s)
        await publish(trader.pk, [("alert", {"message": "still here"})])
        got = await ws.receive_json_from(5)
        await ws.disconnect()
        return quiet, got

    quiet, got = run(go)
    assert quiet
    assert got["message"] == "still here"


def test_the_channel_layer_reads_longer_than_its_blocking_pop_waits():
    hosts = backing_services.channel_layers("redis://127.0.0.1:6379/0")["default"]["CONFIG"]["hosts"]
    assert all(host["socket_timeout"] > RedisChannelLayer.brpop_timeout for host in hosts)
