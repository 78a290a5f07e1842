import asyncio
import weakref

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import api_token_create
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_relay(settings):
    settings.LIVE_RELAY_INTERVAL = 0.05


@pytest.fixture
def trader(transactional_db):
    return UserFactory(username="trader")


@pytest.fixture
def other(transactional_db):
    return UserFactory(username="other")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def token_for(user) -> str:
    return api_token_create(user=user)


class SSE:
    """GET a stream through the project's ASGI application in this process, as a server would."""

    def __init__(self, path: str, headers: dict[str, str] | None = None) -> None:
        from mt5saas.asgi import application

        path, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")]
            + [(k.lower().encode(), v.encode() if isinstance(v, str) else v) for k, v in (headers or {}).items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        self.application = application
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.buffer = b""

    async def open(self) -> tuple[int, dict[str, str]]:
        await self.inbox.put({"type": "http.request", "body": b"", "more_body": False})
        self.task = asyncio.ensure_future(self.application(self.scope, self.inbox.get, self.outbox.put))
        start = await asyncio.wait_for(self.outbox.get(), 10)
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return start["status"], headers

    async def body(self, timeout: float = 5) -> bytes:
        message = await asyncio.wait_for(self.outbox.get(), timeout)
        return message.get("body", b"")

    async def events(self, count: int, timeout: float = 5) -> list[tuple[int, dict]]:
        """The next `count` events as (id, data); comments and retry lines skipped."""
        import json

        found: list[tuple[int, dict]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < count:
            while b"\n\n" not in self.buffer:
                self.buffer += await self.body(max(0.01, deadline - loop.time()))
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            lines = dict(
                line.split(": ", 1) for line in block.decode().splitlines() if line and line[0] != ":" and ": " in line
            )
            if "data" in lines:
                found.append((int(lines["id"]), json.loads(lines["data"])))
        return found

    async def nothing_more(self, wait: float = 0.4) -> bool:
        """True if no event (only comments) arrives within `wait` seconds."""
        try:
            await self.events(1, timeout=wait)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.inbox.put({"type": "http.disconnect"})
        try:
            await asyncio.wait_for(self.task, 5)
        except TimeoutError:
            self.task.cancel()


def run(coroutine_function):
    """Runs a test's coroutine in a loop of its own; the WebSocket clients it opened are closed
    as a browser's would be before the loop ends (see Socket.finish)."""

    async def go():
        try:
            return await coroutine_function()
        finally:
            for socket in Socket.opened.pop(asyncio.get_running_loop(), []):
                await socket.finish()

    return async_to_sync(go)()


def arun(coroutine):
    """Runs a coroutine already made (with its arguments) as run() runs a function."""

    async def go():
        return await coroutine

    return run(go)


class Socket(WebsocketCommunicator):
    """A WebSocket client of the project's ASGI application. The server accepts once it has
    authenticated and joined the stream's group (a few queries and a Redis round trip): the
    handshake is given seconds, not the one second channels' communicator allows, so a busy
    machine is not a failure."""

    # The clients each running loop opened, for run() to finish.
    opened: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Socket]]" = weakref.WeakKeyDictionary()

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        from mt5saas.asgi import application

        super().__init__(application, path, headers=headers)

    async def connect(self, timeout: float = 10):
        Socket.opened.setdefault(asyncio.get_running_loop(), []).append(self)
        return await super().connect(timeout)

    async def finish(self) -> None:
        """Ends the consumer as a server does when its client goes (websocket.disconnect), not
        by the loop's teardown cancelling whatever still runs: a channels-redis receive cancelled
        at that moment was seen to keep reading Redis forever, and the test with it."""
        if self.future.done():
            return
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)  # cancels the consumer if it has not ended by then
