"""POST /webhook/<token>: authentication, size and rate limits, body parsing (docs/webhook.md)."""

import pytest

from accounts.services import webhook_token_reveal


@pytest.fixture
def token(alice) -> str:
    return webhook_token_reveal(user=alice)


def post(client, path: str, body: str | bytes, content_type: str = "application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/plain; charset=utf-8"])
def test_json_and_text_plain_bodies_are_read_alike(client, token, content_type):
    response = post(
        client, f"/webhook/{token}", '{"action": "buy", "symbol": "XAUUSD", "volume": "0.01"}', content_type
    )

    # Authenticated and parsed; the trader has no accounts yet, and the reply says so.
    assert response.status_code == 400
    assert response.json()["errors"] == {"accounts": ["No trading account is available."]}


@pytest.mark.django_db
def test_token_in_the_body_is_accepted(client, token):
    for path in ("/webhook/", "/webhook"):
        response = post(client, path, f'{{"token": "{token}", "action": "sell", "symbol": "EURUSD", "volume": 1}}')
        assert response.status_code == 400 and response.json()["errors"] == {
            "accounts": ["No trading account is available."]
        }
    assert post(client, "/webhook/", '{"token": "whk_nope"}').status_code == 404
    assert post(client, "/webhook/", '{"token": 12}').status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("not json", "The body is not valid JSON"),
        ('{"action": ', "The body is not valid JSON"),
        ("[1, 2]", "The body must be a JSON object."),
        ('"text"', "The body must be a JSON object."),
        (b"\xff\xfe\x00", "The body is not UTF-8 text."),
        ("", "The body is not valid JSON"),
        ("[" * 5000 + "]" * 5000, "The body is not valid JSON: too deeply nested"),
        ('{"volume": ' + "9" * 15000 + "}", "The body is not valid JSON"),
    ],
)
def test_malformed_bodies_get_400_with_the_reason(client, token, body, detail, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 64 * 1024
    response = post(client, f"/webhook/{token}", body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, '{"token": ' + "1" * 15000 + "}"])
def test_hostile_bodies_without_a_token_in_the_path_are_400(client, body, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 64 * 1024

    assert post(client, "/webhook/", body).status_code == 400


@pytest.mark.django_db
def test_unknown_token_is_404_before_the_body_is_read(client):
    response = post(client, "/webhook/whk_" + "A" * 43, "not json")

    assert response.status_code == 404 and response.json() == {"detail": "Unknown webhook token."}


@pytest.mark.django_db
def test_oversize_body_is_413(client, token, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024

    response = post(client, f"/webhook/{token}", '{"comment": "' + "x" * 2000 + '"}')

    assert response.status_code == 413
    assert response.json()["detail"] == "The body is larger than 1024 bytes."


@pytest.mark.django_db
def test_get_is_405_with_allow_header(client, token):
    response = client.get(f"/webhook/{token}")

    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["detail"] == "Send alerts with POST."


@pytest.mark.django_db
def test_rate_limit_per_token_answers_429_with_retry_after(client, token, bob, settings):
    settings.WEBHOOK_RATE_LIMIT = "3/m"
    other = webhook_token_reveal(user=bob)

    codes = [post(client, f"/webhook/{token}", "{}").status_code for _ in range(4)]
    limited = post(client, f"/webhook/{token}", "{}")

    assert codes == [400, 400, 400, 429]
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Rate limit of 3/m" in limited.json()["detail"]
    # Another trader's token has its own budget.
    assert post(client, f"/webhook/{other}", "{}").status_code == 400
