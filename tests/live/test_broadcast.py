"""Events reach the owner's and the staff group in order, from sync code, without a Redis
connection per event, and a layer that is down never breaks the work that published."""

import asyncio
import logging
import os

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import override_settings

from live.broadcast import STAFF_GROUP, layer_events, user_group
from mt5saas.events import events_flush, events_held, publish_many, publish_to_user
from tests.servers import free_port

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.django_db


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Runs what is published as if the surrounding transaction committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def listen(*groups: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


_unread: dict[str, list[dict]] = {}  # events of a layer message that carried more than asked for


async def _next(channel: str, timeout: float) -> dict | None:
    if not _unread.get(channel):
        try:
            message = await asyncio.wait_for(get_channel_layer().receive(channel), timeout)
        except TimeoutError:
            return None
        _unread[channel] = layer_events(message)
    return _unread[channel].pop(0)["payload"]


def received(channel: str, count: int, timeout: float = 2.0) -> list[dict | None]:
    return [async_to_sync(_next)(channel, timeout) for _ in range(count)]


def test_a_batch_reaches_the_owner_and_staff_in_order_and_nobody_else(commit):
    mine, staff, other = listen(user_group(7)), listen(STAFF_GROUP), listen(user_group(8))

    with commit():
        publish_many(7, [("signal", {"id": 1}), ("order", {"id": 10}), ("order", {"id": 11})])

    expected = [{"type": "signal", "id": 1}, {"type": "order", "id": 10}, {"type": "order", "id": 11}]
    assert received(mine, 3) == expected and received(staff, 3) == expected
    assert received(other, 1, timeout=0.2) == [None]


def test_a_fan_out_larger_than_a_channel_holds_reaches_its_listener_whole_in_one_message(commit):
    # A channel holds 100 messages (the layers' default capacity), fewer than a large copy
    # publishes within a moment (51 events at once for a master event with 50 slaves, 150
    # more from its drains): sent one message each, those past the 100th would be dropped.
    channel = listen(user_group(7))
    events = [("order", {"id": number}) for number in range(150)]

    with commit():
        publish_many(7, events)

    async def read() -> tuple[dict, bool]:  # on one loop: a Redis layer's channel is bound to it
        layer = get_channel_layer()
        message = await asyncio.wait_for(layer.receive(channel), 2)
        try:
            await asyncio.wait_for(layer.receive(channel), 0.2)
        except TimeoutError:
            return message, True
        return message, False

    message, alone = async_to_sync(read)()
    assert [event["payload"] for event in layer_events(message)] == [{"type": "order", "id": n} for n in range(150)]
    ids = [event["id"] for event in layer_events(message)]
    assert ids == sorted(ids) and len(set(ids)) == 150  # each with its stored id, in order
    assert alone


def test_nothing_is_sent_before_the_commit(commit):
    # Two listeners, each read on one loop only (a Redis layer's channel is bound to its loop).
    early, late = listen(user_group(7)), listen(user_group(7))
    with commit():
        publish_to_user(7, "order", {"id": 1})
        assert received(early, 1, timeout=0.2) == [None]
    assert received(late, 1) == [{"type": "order", "id": 1}]


@pytest.mark.skipif(not REDIS_URL, reason="needs the Redis channel layer (REDIS_URL)")
def test_sync_publishing_reuses_one_redis_connection(commit):
    server = redis.Redis.from_url(REDIS_URL)
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    with override_settings(CHANNEL_LAYERS=layers):
        with commit():
            publish_to_user(7, "order", {"id": 0})  # the sender loop and its pool start here
        before = server.info("stats")["total_connections_received"]
        for number in range(1, 21):
            with commit():
                publish_to_user(7, "order", {"id": number})
        assert events_flush()
        opened = server.info("stats")["total_connections_received"] - before
    assert opened <= 1, f"{opened} Redis connections for 20 events"


def test_a_channel_layer_that_is_down_does_not_break_the_publisher(commit, caplog):
    down = f"redis://127.0.0.1:{free_port()}/0"
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [down]}}}
    logs = caplog.at_level(logging.WARNING, logger="live.broadcast")
    with override_settings(CHANNEL_LAYERS=layers), logs:
        with commit():
            publish_to_user(7, "order", {"id": 1})  # returns at once: the layer is not waited for
        assert events_flush()
    assert "publishing events failed" in caplog.text


def test_held_events_are_sent_on_release_in_order_and_once(commit):
    early, late = listen(user_group(7)), listen(user_group(7))
    with events_held() as held, commit():
        publish_many(7, [("signal", {"id": 1}), ("order", {"id": 2})])
    with commit():
        publish_to_user(7, "order", {"id": 3})  # after the block: not held
    assert received(early, 1) == [{"type": "order", "id": 3}]
    assert received(early, 1, timeout=0.2) == [None]

    held.release()
    held.release()
    assert received(late, 4, timeout=0.5) == [
        {"type": "order", "id": 3},
        {"type": "signal", "id": 1},
        {"type": "order", "id": 2},
        None,
    ]


def test_an_error_in_the_held_block_releases_at_once(commit):
    channel = listen(user_group(7))
    with pytest.raises(ZeroDivisionError), events_held():
        with commit():
            publish_to_user(7, "order", {"id": 1})
        1 / 0  # noqa: B018
    assert received(channel, 1) == [{"type": "order", "id": 1}]


def test_the_webhook_sends_its_events_after_its_reply_and_if_the_reply_is_dropped(commit):
    from webhooks.views import HeldReply

    # A channel timed out on is not read again (a Redis layer's channel is bound to its loop).
    early, sent, dropped = listen(user_group(7)), listen(user_group(7)), listen(user_group(8))
    for user_id in (7, 8):
        with events_held() as held, commit():
            publish_to_user(user_id, "signal", {"id": user_id})
        reply = HeldReply({"signal": user_id}, status=202, held=held)
        if user_id == 7:
            assert received(early, 1, timeout=0.2) == [None]
            # What the server does once the reply is written (without request_finished closing
            # the test's database connection, as Django's test client does too).
            request_finished.disconnect(close_old_connections)
            try:
                reply.close()
            finally:
                request_finished.connect(close_old_connections)
        del reply  # a reply never written (the client left) is dropped without close()
    assert received(sent, 1) == [{"type": "signal", "id": 7}]
    assert received(dropped, 1) == [{"type": "signal", "id": 8}]
