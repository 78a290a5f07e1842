"""mt5saas.env, the readers settings use, called as settings call them with the environment
set by the test."""

import pytest

from mt5saas import env as readers


def refusal(call) -> str:
    with pytest.raises(SystemExit) as refused:
        call()
    return str(refused.value.code)


# --- rate limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/m", "10/m"),
        ("10/s", "10/s"),
        ("5/h", "5/h"),
        ("100/d", "100/d"),
        ("10 per minute", "10/m"),
        ("20 per minute", "20/m"),
        ("1 per second", "1/s"),
        ("100 per hour", "100/h"),
        ("3 per day", "3/d"),
        ("10 PER Minute", "10/m"),
        ("10 per minutes", "10/m"),
        ("10/minute", "10/m"),
        ("10/min", "10/m"),
        (" 10 / hour ", "10/h"),
    ],
)
def test_rate_limit_accepts_the_bots_form_and_todays(monkeypatch, text, rate):
    monkeypatch.setenv("RATE", text)

    assert readers.rate_limit("RATE", default="20/m") == rate


def test_rate_limit_unset_or_empty_is_the_default(monkeypatch):
    assert readers.rate_limit("RATE", default="20/m") == "20/m"
    monkeypatch.setenv("RATE", "")
    assert readers.rate_limit("RATE", default="20/m") == "20/m"


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "ten per minute",
        "10 per fortnight",
        "10 per month",
        "10/5m",
        "10 per 2 minutes",
        "0/m",
        "0 per minute",
        "-1/m",
        "10/m;100/h",
        "10 minute",
        "10perminute",
        "1" * 5000 + "/m",
        "\u0661\u0660/m",  # Arabic-Indic digits
        "10/m\nX=1",
    ],
)
def test_rate_limit_refuses_anything_else_in_one_line_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("WEBHOOK_RATE_LIMIT", text)

    message = refusal(lambda: readers.rate_limit("WEBHOOK_RATE_LIMIT", default="10/m"))

    assert message.startswith("mt5saas: WEBHOOK_RATE_LIMIT must be a count per second, minute, hour or day")
    assert "\n" not in message
