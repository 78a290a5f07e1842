"""Secrets never reach log output: what the service prints while being used and misused."""

import io
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from accounts.services import api_token_create, webhook_token_reveal
from mt5saas.logging import RedactingFormatter


@pytest.fixture
def log_output():
    """What the configured console handler writes (its own formatter, not pytest's)."""
    stream = io.StringIO()
    handlers = {
        h
        for name in ("", "django")
        for h in logging.getLogger(name).handlers
        if isinstance(h.formatter, RedactingFormatter)
    }
    assert handlers, "the console handler with the redacting formatter is configured"
    previous = [(handler, handler.setStream(stream)) for handler in handlers]
    yield stream
    for handler, old in previous:
        handler.setStream(old)


@pytest.mark.django_db
def test_tokens_and_passwords_never_reach_the_log(client, settings, alice, log_output):
    settings.PASSWORD_LOGIN = True
    settings.WEBHOOK_RATE_LIMIT = "2/m"
    token = webhook_token_reveal(user=alice)
    key = api_token_create(user=alice)
    wrong_password = "hunter2-wrong-password-value"

    client.post("/login", {"username": "alice", "password": wrong_password})
    for _ in range(3):  # 400, 400, 429
        client.post(f"/webhook/{token}", "{}", content_type="application/json")
    client.get(f"/webhook/{token}")  # 405
    client.post(f"/webhook/{token}x", "{}", content_type="application/json")  # 404
    client.get(f"/no-such-page/{token}")  # 404 page
    client.get("/auth/status", headers={"Authorization": f"Token {key}x"})  # 401
    logging.getLogger("mt5saas.test").warning("echoing %s and %s", token, key)

    output = log_output.getvalue()
    assert "Not Found" in output and "Too Many Requests" in output  # the log did record the requests
    for secret in (token, token[4:], key, wrong_password, "correct horse battery staple"):
        assert secret not in output


def test_redaction_covers_tracebacks():
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("lookup failed for whk_AbCdEf0123456789_-xyz")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "POST /webhook/whk_secretpath", None, None)
        record.exc_info = sys.exc_info()

    text = formatter.format(record)

    assert "whk_AbCdEf" not in text and "whk_secretpath" not in text
    assert "/webhook/<redacted>" in text and "ValueError" in text


@pytest.mark.django_db
def test_the_queue_logs_no_line_per_task_enqueued_but_its_other_lines(log_output):
    from django_q.tasks import async_task

    async_task("math.floor", 1.5, save=False)
    logging.getLogger("django-q").info("Q Cluster mt5saas starting.")

    output = log_output.getvalue()
    assert "Enqueued" not in output
    assert "INFO django-q: Q Cluster mt5saas starting." in output


def test_management_commands_do_not_log_the_lockout_apps_start_line():
    # django-axes says "AXES: BEGIN …" at INFO whenever a process starts; its lockouts are warnings.
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "1"},
    )

    assert done.returncode == 0, done.stderr
    assert "AXES" not in done.stdout + done.stderr
    assert logging.getLogger("axes").getEffectiveLevel() <= logging.WARNING
