"""A field the alert parser does not read never changes where or how much is traded: it is
refused when it looks like targeting or sizing, listed as ignored when it is harmless."""

import pytest

from webhooks.payload import PayloadError, parse_signal

OPEN = {"action": "BUY", "symbol": "XAUUSD", "volume": "0.10"}
CLOSE = {"action": "CLOSE", "symbol": "XAUUSD"}


def errors_of(body: dict) -> dict[str, list[str]]:
    with pytest.raises(PayloadError) as caught:
        parse_signal(body)
    return caught.value.errors


@pytest.mark.parametrize(
    "name",
    [
        "close_percent", "closePercent", "close-percent", "partial_close", "partial", "lot", "lots", "lot_size",
        "lotSize", "qty", "quantity", "size", "contracts", "units", "amount", "risk_percent", "riskPct",
        "account_id", "accountId", "account_login", "login", "max_volume", "close_volume", "percent", "pct",
        "symbols", "tickets", "position", "position_id", "positionTicket", "direction", "sides",
    ],
)  # fmt: skip
def test_an_unknown_field_that_looks_like_sizing_or_targeting_is_refused_by_name(name):
    errors = errors_of({**CLOSE, name: 50})

    assert list(errors) == [name]
    assert "looks like it sizes or targets the trade" in errors[name][0]


@pytest.mark.parametrize(
    "name",
    ["ticker", "exchange", "interval", "time", "timenow", "market_position", "position_size",
     "market_position_size", "prev_market_position_size", "close", "strategy", "plot_0", "note"],
)  # fmt: skip
def test_tradingview_placeholders_and_other_harmless_fields_are_listed_as_ignored(name):
    request = parse_signal({**OPEN, name: "{{" + name + "}}"})

    assert request.ignored_fields == (name,)
    assert request.volume is not None and request.accounts == ()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**CLOSE, "volume": 0.5}, "volume", "volume cannot be used with CLOSE, which closes whole positions"),
        ({"action": "CLOSE", "ticket": 7, "volume": 0.5}, "volume", "volume cannot be used with CLOSE"),
        ({"action": "CLOSE", "ticket": 7, "side": "buy"}, "side", "side cannot be used with a CLOSE of one ticket"),
        ({"action": "CLOSE_SYMBOL", "symbol": "X", "risk": 1}, "risk", "risk cannot be used with CLOSE_SYMBOL"),
        ({"action": "CLOSE_SYMBOL", "symbol": "X", "ticket": 7}, "ticket", "ticket cannot be used with CLOSE_SYMBOL"),
        ({"action": "CLOSE_ALL", "symbol": "XAUUSD"}, "symbol", "symbol cannot be used with CLOSE_ALL"),
        ({"action": "CLOSE_ALL", "side": "sell"}, "side", "side cannot be used with CLOSE_ALL"),
        ({"action": "CLOSE_ALL", "volume": 1}, "volume", "volume cannot be used with CLOSE_ALL"),
        ({**OPEN, "ticket": 7}, "ticket", "ticket cannot be used with BUY"),
        ({**OPEN, "side": "sell"}, "side", "side sell contradicts action BUY"),
    ],
)
def test_a_known_field_the_action_does_not_read_is_refused_when_it_steers_the_trade(body, field, message):
    errors = errors_of(body)

    assert list(errors) == [field]
    assert errors[field][0].startswith(message), errors[field]


def test_a_side_that_repeats_the_action_is_read():
    request = parse_signal({**OPEN, "action": "long", "side": "BUY"})

    assert request.side == "buy" and request.ignored_fields == ()
