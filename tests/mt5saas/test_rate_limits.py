"""WEBHOOK_RATE_LIMIT and API_RATE_LIMIT in each accepted form, read as settings read them and
applied through HTTP: the limit holds and the answer is 429 with Retry-After, never 500."""

import time

import pytest

from accounts.services import webhook_token_reveal
from mt5saas import env as readers

FORMS = [
    ("2/s", 1),
    ("2/m", 60),
    ("2/h", 3600),
    ("2/d", 86400),
    ("2 per second", 1),
    ("2 per minute", 60),
    ("2 per hour", 3600),
    ("2 per day", 86400),
    ("2/minute", 60),
    ("2 Per Hour", 3600),
]


def configure(name: str, form: str, monkeypatch, settings) -> None:
    monkeypatch.setenv(name, form)
    setattr(settings, name, readers.rate_limit(name, default="1000/m"))


def at_a_fresh_second(seconds: int) -> None:
    # A per-second window of django-ratelimit is the current wall-clock second: three
    # requests must not straddle two of them.
    if seconds == 1 and time.time() % 1 > 0.5:
        time.sleep(1 - time.time() % 1)


@pytest.mark.django_db
@pytest.mark.parametrize(("form", "seconds"), FORMS)
def test_webhook_takes_two_alerts_then_answers_429(client, alice, monkeypatch, settings, form, seconds):
    configure("WEBHOOK_RATE_LIMIT", form, monkeypatch, settings)
    url = f"/webhook/{webhook_token_reveal(user=alice)}"
    at_a_fresh_second(seconds)

    answers = [client.post(url, "{}", content_type="application/json") for _ in range(3)]

    # 400: alice has no accounts; the limit counts every alert that reached her token.
    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert 1 <= int(answers[2]["Retry-After"]) <= seconds
    assert answers[2].json()["detail"].startswith(f"Rate limit of {settings.WEBHOOK_RATE_LIMIT} reached")


@pytest.mark.django_db
@pytest.mark.parametrize(("form", "seconds"), FORMS)
def test_api_takes_two_requests_then_answers_429_for_the_whole_period(
    api_client, alice, monkeypatch, settings, form, seconds
):
    configure("API_RATE_LIMIT", form, monkeypatch, settings)
    api_client.force_login(alice)

    answers = [api_client.get("/auth/webhook-token") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    # DRF's window slides: the first request leaves it a whole period later.
    assert seconds - 1 <= int(answers[2]["Retry-After"]) <= seconds


@pytest.mark.django_db
def test_anonymous_api_limit_ignores_forwarded_for_from_a_sender_that_is_no_trusted_proxy(client, settings):
    settings.API_RATE_LIMIT, settings.TRUSTED_PROXIES = "2/m", ["10.0.0.2"]

    # One sender claiming a new address each time: still one sender.
    answers = [
        client.get("/auth/status", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 429]


@pytest.mark.django_db
def test_anonymous_api_limit_counts_each_client_behind_a_trusted_proxy(client, settings):
    settings.API_RATE_LIMIT, settings.TRUSTED_PROXIES = "2/m", ["10.0.0.2"]

    def through_proxy(forwarded: str) -> int:
        return client.get("/auth/status", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded).status_code

    first = [through_proxy("198.51.100.1") for _ in range(3)]
    # A client cannot escape by prepending hops: the proxy's last hop is the address.
    forged = through_proxy("192.0.2.77, 198.51.100.1")
    second = through_proxy("198.51.100.2")

    assert first == [200, 200, 429] and forged == 429
    assert second == 200
