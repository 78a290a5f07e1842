"""An open stream ends within LIVE_AUTH_RECHECK_S of what authorised it ending (docs/live-events.md):
the trader disabled, the API key revoked or replaced, the session signed out, staff rights lost
for ?all=1; and ?all=1 needs an operator's session signed in within ADMIN_REAUTH_MINUTES."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.models import User
from accounts.services import api_token_create, api_token_revoke, user_set_active
from tests.factories import UserFactory
from tests.live.conftest import SSE, arun, token_for
from tests.live.test_websocket import connect

RECHECK_S = 0.2
ENDS_WITHIN_S = 3  # the re-check interval above, and the time a test's thread takes to answer


@pytest.fixture(autouse=True)
def _fast_recheck(settings):
    settings.LIVE_AUTH_RECHECK_S = RECHECK_S


def signed_in(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


async def sse_ended(stream: SSE) -> bytes:
    """What the stream sent until its response ended by itself."""
    body = b""
    while True:
        message = await stream.outbox.get()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def sse_ends_after(path: str, headers: dict[str, str], change) -> bytes:
    stream = SSE(path, headers)
    status, _ = await stream.open()
    assert status == 200
    await stream.body()  # connected
    await asyncio.sleep(RECHECK_S * 2)  # a re-check or two while it is still allowed
    await sync_to_async(change)()
    try:
        return await asyncio.wait_for(sse_ended(stream), ENDS_WITHIN_S)
    finally:
        await stream.close()


async def ws_close_after(path: str, headers: list[tuple[bytes, bytes]], change) -> tuple[int, list[dict]]:
    ws = connect(path, headers)
    assert (await ws.connect())[0]
    assert await ws.receive_nothing(RECHECK_S * 2)  # still open through a re-check or two
    await sync_to_async(change)()
    frames = []
    while True:
        message = await ws.receive_output(ENDS_WITHIN_S)
        if message["type"] == "websocket.close":
            return message["code"], frames
        frames.append(message)


def revoke(user, key: str):
    return lambda: api_token_revoke(user=user, token_key=key[:15])


def disable(user):
    return lambda: user_set_active(user=user, active=False, by=UserFactory())


# --- SSE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["revoked", "replaced", "disabled"])
def test_an_open_sse_stream_ends_when_its_api_key_stops_working(trader, how):
    key = token_for(trader)
    change = {
        "revoked": revoke(trader, key),
        "replaced": lambda: api_token_create(user=trader, replace=True),
        "disabled": disable(trader),
    }[how]
    body = arun(sse_ends_after("/events/", {"authorization": f"Token {key}"}, change))
    assert b": ended:" in body and key.encode() not in body


def test_an_open_sse_stream_ends_when_its_session_signs_out(trader):
    client, cookie = signed_in(trader)
    body = arun(sse_ends_after("/events/", {"cookie": cookie}, lambda: client.post("/logout")))
    assert b": ended:" in body


def test_an_open_sse_stream_of_a_session_ends_when_the_trader_is_disabled(trader):
    _, cookie = signed_in(trader)
    assert b": ended:" in arun(sse_ends_after("/events/", {"cookie": cookie}, disable(trader)))


def test_an_open_all_tenants_sse_stream_ends_when_staff_rights_go(transactional_db):
    operator = UserFactory(username="op", is_staff=True)
    _, cookie = signed_in(operator)
    body = arun(
        sse_ends_after(
            "/events/?all=1", {"cookie": cookie}, lambda: User.objects.filter(pk=operator.pk).update(is_staff=False)
        )
    )
    assert b": ended:" in body


def test_a_session_stream_still_runs_past_several_rechecks(trader):
    _, cookie = signed_in(trader)

    async def go():
        stream = SSE("/events/", {"cookie": cookie})
        await stream.open()
        await stream.body()
        await asyncio.sleep(RECHECK_S * 4)
        alive = not stream.task.done()
        await stream.close()
        return alive

    assert arun(go())


# --- WebSocket ------------------------------------------------------------------------------


@pytest.mark.parametrize(("how", "code"), [("revoked", 4401), ("disabled", 4403)])
def test_an_open_socket_closes_when_its_api_key_stops_working(trader, how, code):
    key = token_for(trader)
    change = revoke(trader, key) if how == "revoked" else disable(trader)
    closed, frames = arun(ws_close_after(f"/ws/events/?token={key}", [], change))
    assert closed == code
    assert frames and '"type": "error"' in frames[-1]["text"] and key not in frames[-1]["text"]


def test_an_open_socket_closes_when_its_session_signs_out(trader):
    client, cookie = signed_in(trader)
    closed, _ = arun(ws_close_after("/ws/events/", [(b"cookie", cookie.encode())], lambda: client.post("/logout")))
    assert closed == 4401


def test_an_open_all_tenants_socket_closes_when_staff_rights_go(transactional_db):
    operator = UserFactory(username="op", is_staff=True)
    _, cookie = signed_in(operator)
    closed, _ = arun(
        ws_close_after(
            "/ws/events/?all=1",
            [(b"cookie", cookie.encode())],
            lambda: User.objects.filter(pk=operator.pk).update(is_staff=False),
        )
    )
    assert closed == 4403


# --- ?all=1 and the fresh sign-in rule ----------------------------------------------------------


def stale(cookie: str, settings) -> None:
    row = Session.objects.get(session_key=cookie.split("=", 1)[1])
    data = row.get_decoded()
    data["signed_in_at"] = time.time() - settings.ADMIN_REAUTH_SECONDS - 1
    Session.objects.save(row.session_key, data, row.expire_date)


def test_all_tenants_refuses_an_operator_session_signed_in_too_long_ago(transactional_db, settings):
    operator = UserFactory(username="op", is_staff=True)
    _, cookie = signed_in(operator)
    stale(cookie, settings)

    async def go():
        stream = SSE("/events/?all=1", {"cookie": cookie})
        status, _ = await stream.open()
        return status, await stream.body()

    status, body = arun(go())
    assert status == 403 and b"sign in again" in body.lower()
    code = arun(_close_code(connect("/ws/events/?all=1", [(b"cookie", cookie.encode())])))
    assert code == 4403
    # Their own stream is not a staff surface.
    assert arun(_status(SSE("/events/", {"cookie": cookie}))) == 200


def test_all_tenants_refuses_an_operator_signed_in_without_a_second_factor(transactional_db, settings):
    settings.STAFF_MFA_REQUIRED = True
    operator = UserFactory(username="op", is_staff=True)
    _, cookie = signed_in(operator)  # a sign-in with no second factor recorded

    async def go():
        stream = SSE("/events/?all=1", {"cookie": cookie})
        status, _ = await stream.open()
        return status, await stream.body()

    status, body = arun(go())
    assert status == 403 and b"/oauth/2fa/" in body
    assert arun(_close_code(connect("/ws/events/?all=1", [(b"cookie", cookie.encode())]))) == 4403
    assert arun(_status(SSE("/events/", {"cookie": cookie}))) == 200  # their own stream


def test_all_tenants_refuses_an_operators_api_key(transactional_db):
    # A key has no sign-in time: it would follow every tenant for as long as it lives.
    operator = UserFactory(username="op", is_staff=True)
    key = token_for(operator)
    assert arun(_status(SSE("/events/?all=1", {"authorization": f"Token {key}"}))) == 403
    assert arun(_close_code(connect(f"/ws/events/?all=1&token={key}"))) == 4403


async def _status(stream: SSE) -> int:
    status, _ = await stream.open()
    await stream.close()
    return status


async def _close_code(ws) -> int:
    assert (await ws.connect())[0]
    while True:
        message = await ws.receive_output(5)
        if message["type"] == "websocket.close":
            return message["code"]
