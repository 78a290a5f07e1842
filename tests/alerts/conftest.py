"""A local SMTP server (aiosmtpd) and a local HTTP receiver, both started by the tests."""

import email
import email.policy
import http.server
import threading
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from django_q.conf import Conf

from tests.servers import free_port


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)  # (envelope recipients, parsed message)

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    """Django sends through SMTP to a server on 127.0.0.1; received messages are in .messages."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield mailbox
    controller.stop()


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class Receiver:
    """Answers each POST with the next of `script` (a status, "hang" or "huge"), then 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                action = receiver.script.pop(0) if receiver.script else 200
                if action == "hang":
                    time.sleep(3)
                    return
                if action == "huge":  # 50 MB that the sender must not read
                    self.send_response(200)
                    self.send_header("Content-Length", str(50 * 1024 * 1024))
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        for _ in range(800):
                            self.wfile.write(chunk)
                    except OSError:
                        pass  # the sender hung up, as it should
                    return
                self.send_response(action)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts?key=receiver-credential"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True  # the explicit switch that lets a test reach 127.0.0.1
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def sync_queue(monkeypatch):
    """async_task runs the task at once, in this process (django-q2's sync mode)."""
    monkeypatch.setattr(Conf, "SYNC", True)
