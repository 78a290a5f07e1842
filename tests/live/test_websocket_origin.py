"""/ws/events/ and the Origin: a page of another scheme or port of the same host cannot open a
trader's stream with their cookie; a script without Origin authenticates with its API key."""

import pytest
from asgiref.sync import sync_to_async

from mt5saas.events import publish_many
from tests.live.conftest import Socket, run, session_cookie, token_for

publish = sync_to_async(publish_many)
HOST = b"127.0.0.1:8000"


def connect(path: str, headers: list[tuple[bytes, bytes]]) -> Socket:
    return Socket(path, headers)


def outcome(user, path: str, headers: list[tuple[bytes, bytes]]) -> tuple:
    """("live", event) if the stream delivers the user's event, else ("closed", code, detail)."""

    async def go():
        ws = connect(path, headers)
        connected, _ = await ws.connect()
        assert connected, "refused at the handshake, without a reason"
        # Accepted once subscribed, or to be refused with a close code: publishing now is safe.
        await publish(user.pk, [("alert", {"message": "hello"})])
        first = await ws.receive_json_from(5)
        if first.get("type") == "error":
            closed = await ws.receive_output(5)
            return ("closed", closed["code"], first["detail"])
        await ws.disconnect()
        return ("live", first["message"])

    return run(go)


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:8080",  # another port of the same host
        b"https://127.0.0.1:8000",  # another scheme
        b"http://127.0.0.1",  # the default port is another port
        b"http://evil.example",
        b"null",
    ],
)
def test_a_cookie_from_a_page_of_another_origin_is_refused(trader, origin):
    headers = [(b"host", HOST), (b"origin", origin), (b"cookie", session_cookie(trader))]

    result = outcome(trader, "/ws/events/?since=0", headers)

    assert result[:2] == ("closed", 4403) and "Origin" in result[2]


def test_a_cookie_without_an_origin_is_refused_and_not_read(trader):
    headers = [(b"host", HOST), (b"cookie", session_cookie(trader))]

    result = outcome(trader, "/ws/events/?since=0", headers)

    assert result[:2] == ("closed", 4403) and "API key" in result[2]


def test_a_cookie_from_this_sites_own_page_gets_its_stream(trader):
    headers = [(b"host", HOST), (b"origin", b"http://" + HOST), (b"cookie", session_cookie(trader))]

    assert outcome(trader, "/ws/events/?since=0", headers) == ("live", "hello")


def test_https_behind_the_proxy_is_this_sites_own_origin(trader, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    cookie = (b"cookie", session_cookie(trader))
    base = [(b"host", HOST), (b"x-forwarded-proto", b"https"), cookie]

    assert outcome(trader, "/ws/events/?since=0", [*base, (b"origin", b"https://" + HOST)]) == ("live", "hello")
    assert outcome(trader, "/ws/events/?since=0", [*base, (b"origin", b"http://" + HOST)])[:2] == ("closed", 4403)


def test_csrf_trusted_origins_are_compared_by_scheme_host_and_port(trader, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.example.net"]
    cookie = (b"cookie", session_cookie(trader))

    def with_origin(origin: bytes) -> str:
        return outcome(trader, "/ws/events/?since=0", [(b"host", HOST), (b"origin", origin), cookie])[0]

    assert with_origin(b"https://app.example.com") == "live"
    assert with_origin(b"https://eu.example.net") == "live"
    assert with_origin(b"https://app.example.com:8443") == "closed"
    assert with_origin(b"http://app.example.com") == "closed"
    assert with_origin(b"http://eu.example.net") == "closed"


def test_a_script_without_origin_connects_with_its_key(trader):
    key = token_for(trader)

    in_query = outcome(trader, f"/ws/events/?since=0&token={key}", [(b"host", HOST)])
    in_header = outcome(trader, "/ws/events/?since=0", [(b"host", HOST), (b"authorization", f"Token {key}".encode())])

    assert in_query == in_header == ("live", "hello")


def test_a_script_without_origin_and_with_a_wrong_key_is_told_so(trader):
    result = outcome(trader, "/ws/events/?token=mt5_wrong", [(b"host", HOST), (b"cookie", session_cookie(trader))])

    # The key is read, the cookie is not: the wrong key is refused, never replaced by the session.
    assert result[:2] == ("closed", 4401)
