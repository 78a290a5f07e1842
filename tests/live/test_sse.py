"""GET /events/ and /events/copy-trades through the ASGI application (docs/live-events.md)."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from live.broadcast import layer_message, user_group
from live.models import Event
from live.selectors import event_resume_cursor
from live.services import events_store
from mt5saas.events import publish_many, publish_to_user
from tests.factories import UserFactory
from tests.live.conftest import SSE, run, session_cookie, token_for

publish = sync_to_async(publish_many)


def stored_ids(user) -> list[int]:
    return list(Event.objects.filter(owner=user).order_by("id").values_list("id", flat=True))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"cookie": "sessionid=forged-or-stale"}, 401),
        ({"authorization": "Token mt5_0123456789abcdef"}, 401),
        ({"authorization": "Bearer something"}, 401),
    ],
)
def test_anonymous_or_bad_credentials_are_refused(transactional_db, headers, status):
    async def go():
        stream = SSE("/events/", headers)
        code, response_headers = await stream.open()
        body = await stream.body()
        return code, response_headers, body

    code, headers_out, body = run(go)
    assert code == status and headers_out["content-type"] == "application/json"
    assert b"mt5_0123" not in body


def test_disabled_user_with_a_valid_token_gets_403(trader):
    key = token_for(trader)
    trader.is_active = False
    trader.save()

    async def go():
        return (await SSE("/events/", {"authorization": f"Token {key}"}).open())[0]

    assert run(go) == 403


@pytest.mark.parametrize("query,header", [("?since=abc", None), ("?since=-1", None), ("", "12x"), ("?since=1e3", None)])
def test_a_cursor_that_is_not_a_number_is_400(trader, query, header):
    headers = {"cookie": session_cookie(trader)}
    if header:
        headers["last-event-id"] = header

    async def go():
        return (await SSE(f"/events/{query}", headers).open())[0]

    assert run(go) == 400


def test_trader_asking_for_all_tenants_gets_403(trader):
    cookie_trader = session_cookie(trader)

    async def go():
        return (await SSE("/events/?all=1", {"cookie": cookie_trader}).open())[0]

    assert run(go) == 403


def test_stream_headers_and_live_events_of_the_owner_only(trader, other):
    key = token_for(trader)

    async def go():
        stream = SSE("/events/", {"authorization": f"Token {key}"})
        status, headers = await stream.open()
        first = await stream.body()
        await publish(other.pk, [("order", {"id": 99, "status": "filled"})])
        await publish(trader.pk, [("signal", {"id": 1}), ("order", {"id": 10, "status": "queued"})])
        got = await stream.events(2)
        quiet = await stream.nothing_more()
        await stream.close()
        return status, headers, first, got, quiet

    status, headers, first, got, quiet = run(go)
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache" and headers["x-accel-buffering"] == "no"
    assert b"retry:" in first
    ids = stored_ids(trader)
    assert got == [
        (ids[0], {"event_id": ids[0], "type": "signal", "id": 1}),
        (ids[1], {"event_id": ids[1], "type": "order", "id": 10, "status": "queued"}),
    ]
    # The relay also sent both rows (the in-memory layer): they were dropped as duplicates,
    # and the other trader's event never came.
    assert quiet


def test_last_event_id_catches_up_then_goes_live_without_gap_or_duplicate(trader, other):
    publish_many(trader.pk, [("order", {"id": n}) for n in range(1, 4)])
    publish_to_user(other.pk, "order", {"id": 500})
    first, second, third = stored_ids(trader)

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader, "last-event-id": str(first)})
        await stream.open()
        await publish(trader.pk, [("order", {"id": 4})])
        got = await stream.events(3)
        quiet = await stream.nothing_more()
        await stream.close()
        return got, quiet

    got, quiet = run(go)
    fourth = stored_ids(trader)[-1]
    assert [event_id for event_id, _ in got] == [second, third, fourth]
    assert [data["id"] for _, data in got] == [2, 3, 4]
    assert quiet


def test_a_resumed_stream_replays_the_events_just_below_its_id_but_not_older_ones(trader, other):
    # An id is taken at insert and seen at commit: an event with a lower id may have been
    # committed after the client got its last id. The catch-up starts LIVE_RESUME_LOOKBACK_S
    # before that event, so such an event comes (again, if the client had it: kept by id).
    publish_many(trader.pk, [("order", {"id": n}) for n in range(1, 5)])
    publish_to_user(other.pk, "order", {"id": 500})
    old, first, second, last = stored_ids(trader)
    Event.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(seconds=120))

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader, "last-event-id": str(last)})
        await stream.open()
        await publish(trader.pk, [("order", {"id": 5})])
        got = await stream.events(3)
        quiet = await stream.nothing_more()
        await stream.close()
        return got, quiet

    got, quiet = run(go)
    assert [event_id for event_id, _ in got] == [first, second, stored_ids(trader)[-1]]
    assert [data["id"] for _, data in got] == [2, 3, 5]
    assert quiet  # the old one, the other trader's and the last id itself stay out


def test_an_event_committed_after_the_last_id_arrives_live_though_its_id_is_lower(trader):
    publish_many(trader.pk, [("order", {"id": 1}), ("order", {"id": 2})])
    late, last = stored_ids(trader)
    # Older than the look-back: only the live message (sent when its transaction commits)
    # can bring it, as for a transaction that commits after the catch-up has read.
    Event.objects.filter(pk=late).update(created_at=timezone.now() - timedelta(seconds=120))
    row = Event.objects.get(pk=late)
    message = layer_message(event_id=row.pk, owner_id=row.owner_id, kind=row.kind, payload=row.payload)

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader, "last-event-id": str(last)})
        await stream.open()
        await get_channel_layer().group_send(user_group(trader.pk), message)
        got = await stream.events(1)
        await get_channel_layer().group_send(user_group(trader.pk), message)
        quiet = await stream.nothing_more()
        await stream.close()
        return got, quiet

    got, quiet = run(go)
    assert [(event_id, data["id"]) for event_id, data in got] == [(late, 1)]
    assert quiet  # once: the second copy of the same id is dropped


def test_resume_cursor_looks_back_only_within_the_callers_kinds_and_window(trader, other):
    publish_many(trader.pk, [("order", {"id": 1}), ("copy_event", {"id": 2}), ("order", {"id": 3})])
    order_one, copy_two, order_three = stored_ids(trader)
    look = {"user": trader, "since": order_three, "lookback_s": 30}
    assert event_resume_cursor(**look) == order_one - 1
    assert event_resume_cursor(**look, kinds=frozenset({"copy_event"})) == copy_two - 1
    assert event_resume_cursor(**{**look, "lookback_s": 0}) == order_three
    assert event_resume_cursor(**{**look, "since": order_three + 1000}) == order_three + 1000  # no anchor
    assert event_resume_cursor(user=other, since=order_three, lookback_s=30) == order_three  # none of theirs


def test_a_stream_without_a_cursor_gets_what_was_published_while_it_joined(trader, settings, monkeypatch):
    # A publisher that commits while the stream joins its group sends before the stream
    # listens: the stream started at the newest stored id, and its catch-up brings the event.
    settings.LIVE_RELAY_INTERVAL = 0  # no relay tailing the table: the catch-up alone must do it
    layer = get_channel_layer()
    joining = layer.group_add

    async def publish_while_joining(group, channel):
        await sync_to_async(events_store)(owner_id=trader.pk, events=[("alert", {"message": "meanwhile"})])
        await joining(group, channel)

    monkeypatch.setattr(layer, "group_add", publish_while_joining)
    publish_to_user(trader.pk, "order", {"id": 1})  # before the stream: not sent
    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader})
        await stream.open()
        got = await stream.events(1)
        quiet = await stream.nothing_more()
        await stream.close()
        return got, quiet

    got, quiet = run(go)
    assert [data["message"] for _, data in got] == ["meanwhile"] and quiet


def test_since_from_another_users_stream_yields_none_of_their_events(trader, other):
    publish_many(other.pk, [("order", {"id": n}) for n in range(5)])
    their_first = stored_ids(other)[0]

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE(f"/events/?since={their_first - 1}", {"cookie": cookie_trader})
        await stream.open()
        quiet = await stream.nothing_more()
        await stream.close()
        return quiet

    assert run(go)


def test_staff_all_tenants_stream_has_everyones_events(trader, other):
    operator = UserFactory(username="op", is_staff=True)
    publish_to_user(trader.pk, "order", {"id": 1})
    publish_to_user(other.pk, "order", {"id": 2})
    since = min(stored_ids(trader)) - 1

    cookie_operator = session_cookie(operator)

    async def go():
        stream = SSE(f"/events/?all=1&since={since}", {"cookie": cookie_operator})
        assert (await stream.open())[0] == 200
        got = await stream.events(2)
        await stream.close()
        return got

    got = run(go)
    assert [(data["owner"], data["id"]) for _, data in got] == [(trader.pk, 1), (other.pk, 2)]


def test_copy_trades_alias_streams_copy_events_only(trader):
    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/copy-trades", {"cookie": cookie_trader})
        await stream.open()
        await publish(trader.pk, [("order", {"id": 1}), ("copy_event", {"id": 7, "event": "deal_add"})])
        got = await stream.events(1)
        quiet = await stream.nothing_more()
        await stream.close()
        return got, quiet

    got, quiet = run(go)
    assert [data["type"] for _, data in got] == ["copy_event"] and quiet


def test_heartbeat_comment_when_nothing_happens(trader, settings):
    settings.LIVE_HEARTBEAT_S = 0.1

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader})
        await stream.open()
        await stream.body()
        beat = await stream.body(timeout=2)
        await stream.close()
        return beat

    assert run(go) == b": keep-alive\n\n"


def test_client_that_leaves_is_cleaned_up(trader):
    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader})
        await stream.open()
        await stream.body()
        await stream.close()
        return stream.task.done()

    assert run(go)


def test_a_client_that_never_reads_is_dropped_with_bounded_memory(trader, settings):
    """A server with flow control stops our sends while the client does not read: the queue
    stops at LIVE_QUEUE_SIZE and the connection is dropped (the client resumes by id)."""
    settings.LIVE_QUEUE_SIZE = 20
    from mt5saas.asgi import application

    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader})
        started = asyncio.Event()
        stuck = asyncio.Event()  # never set: the client never reads

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body" and started.is_set():
                await stuck.wait()
            if message["type"] == "http.response.body":
                started.set()

        await stream.inbox.put({"type": "http.request", "body": b"", "more_body": False})
        task = asyncio.ensure_future(application(stream.scope, stream.inbox.get, send))
        await asyncio.wait_for(started.wait(), 5)
        for n in range(60):
            await publish(trader.pk, [("order", {"id": n})])
        await asyncio.wait_for(task, 5)  # the response ended: the connection is dropped
        return task.done()

    assert run(go)


def test_a_stream_ends_after_its_lifetime_so_a_buffer_nobody_reads_stays_bounded(trader, settings):
    settings.LIVE_STREAM_MAX_S = 0.3
    cookie_trader = session_cookie(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie_trader})
        await stream.open()
        await stream.body()
        await asyncio.wait_for(stream.task, 3)  # the response ends by itself; EventSource resumes by id
        return stream.task.done()

    assert run(go)
