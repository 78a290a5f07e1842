"""webhooks.payload: the alert contract of docs/webhook.md rule by rule, then random bodies (issue 5, "Bad input")."""

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks.payload import PayloadError, SignalRequest, parse_signal

OPEN = {"action": "BUY", "symbol": "XAUUSD", "volume": "0.10"}
FIELDS = [
    "action", "symbol", "volume", "risk", "order_type", "price", "take_profit", "tp", "stop_loss", "sl",
    "tp_pips", "sl_pips", "accounts", "account", "ticket", "comment", "id", "token", "side",
]  # fmt: skip


def errors_of(body: Any) -> dict[str, list[str]]:
    with pytest.raises(PayloadError) as caught:
        parse_signal(body)
    return caught.value.errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Actions: case and surrounding spaces do not matter; LONG/SHORT are BUY/SELL.
        ({**OPEN, "action": "buy"}, {"kind": "open", "side": "buy"}),
        ({**OPEN, "action": " Long "}, {"kind": "open", "side": "buy"}),
        ({**OPEN, "action": "sell"}, {"kind": "open", "side": "sell"}),
        ({**OPEN, "action": "SHORT"}, {"kind": "open", "side": "sell", "order_type": "market"}),
        # Symbols: upper-cased, TradingView's exchange prefix dropped.
        ({**OPEN, "symbol": "OANDA:XAUUSD"}, {"symbol": "XAUUSD"}),
        ({**OPEN, "symbol": " oanda: xauusd "}, {"symbol": "XAUUSD"}),
        ({**OPEN, "symbol": "us30.cash"}, {"symbol": "US30.CASH"}),
        ({**OPEN, "symbol": "#AAPL"}, {"symbol": "#AAPL"}),
        ({**OPEN, "symbol": "X" * 40}, {"symbol": "X" * 40}),
        # Numbers: JSON numbers and the strings TradingView renders, kept exact as Decimals.
        ({**OPEN, "volume": "0.10"}, {"volume": Decimal("0.10")}),
        ({**OPEN, "volume": " 2.5 "}, {"volume": Decimal("2.5")}),
        ({**OPEN, "volume": 0.1}, {"volume": Decimal("0.1")}),
        ({**OPEN, "volume": 1}, {"volume": Decimal("1")}),
        ({**OPEN, "volume": "1e-2"}, {"volume": Decimal("0.01")}),
        ({**OPEN, "volume": "+.5"}, {"volume": Decimal("0.5")}),
        ({**OPEN, "volume": "1000"}, {"volume": Decimal("1000")}),
        ({**OPEN, "volume": Decimal("0.25")}, {"volume": Decimal("0.25")}),
        ({**OPEN, "volume": "0.100000000000000000000000"}, {"volume": Decimal("0.1")}),
        ({**OPEN, "volume": 0.1 + 0.2}, {"volume": Decimal("0.30000000000000004")}),
        # Risk sizing needs a stop, as a price or in pips.
        (
            {"action": "buy", "symbol": "XAUUSD", "risk": "1.5", "stop_loss": "2400"},
            {"risk": Decimal("1.5"), "volume": None, "stop_loss": Decimal("2400")},
        ),
        ({"action": "sell", "symbol": "EURUSD", "risk": 100, "sl_pips": 20}, {"risk": 100, "sl_pips": 20}),
        # Pending orders, with stops on the right side of the price.
        (
            {**OPEN, "order_type": "LIMIT", "price": " 2412.50 ", "stop_loss": 2400, "take_profit": "2450"},
            {"order_type": "limit", "price": Decimal("2412.50"), "stop_loss": 2400, "take_profit": 2450},
        ),
        (
            {**OPEN, "action": "sell", "order_type": " Stop ", "price": 1.1, "sl": 1.2, "tp": 1.0},
            {"order_type": "stop", "price": Decimal("1.1"), "stop_loss": Decimal("1.2"), "take_profit": 1},
        ),
        ({**OPEN, "order_type": "market"}, {"order_type": "market", "price": None}),
        # A market order's stops meet the live quote later; only their order is known now.
        ({**OPEN, "price": 2412, "sl": 2420, "tp": 2450}, {"price": 2412, "stop_loss": 2420}),
        ({**OPEN, "tp_pips": "50", "sl_pips": 25.5}, {"tp_pips": 50, "sl_pips": Decimal("25.5")}),
        ({**OPEN, "tp": 2450, "sl_pips": 30}, {"take_profit": 2450, "sl_pips": 30}),
        # Accounts: logins or ids as text, duplicates dropped, order kept.
        ({**OPEN, "accounts": ["1123456", 1123456, " 42 ", "42", 7]}, {"accounts": ("1123456", "42", "7")}),
        ({**OPEN, "accounts": [str(n) for n in range(100)]}, {"accounts": tuple(str(n) for n in range(100))}),
        ({**OPEN, "comment": " tv-breakout ", "id": "alert-42-bar-1717000000"}, {"comment": "tv-breakout"}),
        ({**OPEN, "id": " alert 42 "}, {"idempotency_key": "alert 42"}),
        ({**OPEN, "id": 1717000000}, {"idempotency_key": "1717000000"}),
        ({**OPEN, "comment": "{{strategy.order.comment}}"}, {"comment": "{{strategy.order.comment}}"}),
        ({**OPEN, "comment": ""}, {"comment": ""}),
        # Closes.
        ({"action": "close", "ticket": "123456"}, {"kind": "close_ticket", "ticket": 123456, "symbol": ""}),
        ({"action": "CLOSE", "ticket": 2**63 - 1, "symbol": "xauusd"}, {"ticket": 2**63 - 1, "symbol": "XAUUSD"}),
        ({"action": "close", "symbol": "OANDA:XAUUSD"}, {"kind": "close_symbol", "symbol": "XAUUSD", "side": None}),
        ({"action": "close", "symbol": "XAUUSD", "side": "long"}, {"kind": "close_symbol", "side": "buy"}),
        ({"action": "close_symbol", "symbol": "XAUUSD", "side": "Sell"}, {"kind": "close_symbol", "side": "sell"}),
        ({"action": "Close_All"}, {"kind": "close_all", "symbol": "", "ignored_fields": ()}),
        ({"action": "CLOSE_ALL", "accounts": ["1"]}, {"kind": "close_all", "accounts": ("1",)}),
        # What has no effect is listed, not refused; the token is consumed by authentication.
        (
            {**OPEN, "token": "whk_secret", "strategy": "x", "side": "buy", "ticker": "XAUUSD", "position_size": 1},
            {"side": "buy", "ticket": None, "ignored_fields": ("strategy", "ticker", "position_size")},
        ),
        (
            {"action": "CLOSE_ALL", "interval": "{{interval}}", "timenow": "x", "": 1},
            {"kind": "close_all", "symbol": "", "ignored_fields": ("interval", "timenow", "")},
        ),
        # One account by its login (text or number), as the single-user bot's alerts named it.
        ({**OPEN, "account": "1123456"}, {"accounts": ("1123456",), "accounts_field": "account"}),
        ({**OPEN, "account": 1123456}, {"accounts": ("1123456",), "accounts_field": "account"}),
        ({"action": "CLOSE_ALL", "account": " 7 "}, {"kind": "close_all", "accounts": ("7",)}),
    ],
)
def test_valid_alerts_are_normalised(body, expected):
    request = parse_signal(body)

    assert {name: getattr(request, name) for name in expected} == expected


def test_defaults_of_a_minimal_alert():
    assert parse_signal(dict(OPEN)) == SignalRequest(
        kind="open", side="buy", symbol="XAUUSD", volume=Decimal("0.10"), order_type="market"
    )


def test_the_body_is_left_as_it_was():
    body = {**OPEN, "accounts": ["1", "1"], "tp": "2450"}
    before = copy.deepcopy(body)

    parse_signal(body)

    assert body == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # action
        ({"symbol": "XAUUSD", "volume": 1}, {"action": "action is required: one of BUY, SELL, LONG, SHORT, CLOSE,"}),
        ({**OPEN, "action": "BUYY"}, {"action": 'action "BUYY" is not one of BUY, SELL'}),
        ({**OPEN, "action": "flat"}, {"action": 'action "flat" is not one of'}),
        ({**OPEN, "action": 1}, {"action": "action must be text, got 1."}),
        ({**OPEN, "action": None}, {"action": "action is null: give a value or leave the field out."}),
        ({**OPEN, "action": "  "}, {"action": "action is empty."}),
        ({**OPEN, "action": ["buy"]}, {"action": "action must be text, got a list."}),
        (
            {**OPEN, "action": "{{strategy.order.action}}"},
            {"action": "action is the unrendered placeholder {{strategy.order.action}}: check the alert message."},
        ),
        # symbol
        ({"action": "buy", "volume": 1}, {"symbol": "symbol is required for BUY."}),
        ({"action": "close_symbol"}, {"symbol": "symbol is required for CLOSE_SYMBOL."}),
        ({"action": "close"}, {"symbol": "CLOSE needs a symbol (its positions) or a ticket (one position)."}),
        ({**OPEN, "symbol": ["XAUUSD"]}, {"symbol": "symbol must be text, got a list."}),
        ({**OPEN, "symbol": {"name": "XAUUSD"}}, {"symbol": "symbol must be text, got an object."}),
        ({**OPEN, "symbol": 1}, {"symbol": "symbol must be text, got 1."}),
        ({**OPEN, "symbol": ""}, {"symbol": "symbol is empty."}),
        ({**OPEN, "symbol": "X" * 41}, {"symbol": "symbol is 41 characters long; at most 40."}),
        ({**OPEN, "symbol": "X" * 10_000}, {"symbol": "symbol is 10000 characters long; at most 40."}),
        ({**OPEN, "symbol": "XAU\x00USD"}, {"symbol": "symbol contains a control or invisible character (U+0000)."}),
        ({**OPEN, "symbol": "XAU\u200bUSD"}, {"symbol": "symbol contains a control or invisible character (U+200B)."}),
        ({**OPEN, "symbol": "XAU\ud800"}, {"symbol": "symbol contains a control or invisible character (U+D800)."}),
        ({**OPEN, "symbol": "XAU USD"}, {"symbol": "symbol contains a space."}),
        ({**OPEN, "symbol": "OANDA:"}, {"symbol": 'symbol "OANDA:" has an exchange prefix but no symbol after it.'}),
        ({**OPEN, "symbol": "A:B:C"}, {"symbol": 'symbol "A:B:C" has more than one exchange prefix.'}),
        ({**OPEN, "symbol": "{{ticker}}"}, {"symbol": "symbol is the unrendered placeholder {{ticker}}"}),
        ({**OPEN, "symbol": "OANDA:{{tickr}}"}, {"symbol": "symbol contains the unrendered placeholder {{tickr}}"}),
        # volume and risk
        ({"action": "buy", "symbol": "X"}, {"volume": "volume (lots) or risk (% of balance) is required"}),
        (
            {**OPEN, "risk": 1, "sl": 1},
            {"risk": "risk cannot be given with volume: size the order in lots (volume) or % of balance (risk)."},
        ),
        ({**OPEN, "volume": 0}, {"volume": "volume must be more than 0 lots, got 0."}),
        ({**OPEN, "volume": "0.00"}, {"volume": "volume must be more than 0 lots, got 0.00."}),
        ({**OPEN, "volume": "-0.5"}, {"volume": "volume must be more than 0 lots, got -0.5."}),
        ({**OPEN, "volume": -1}, {"volume": "volume must be more than 0 lots, got -1."}),
        ({**OPEN, "volume": 1000.01}, {"volume": "volume must be at most 1000 lots, got 1000.01."}),
        ({**OPEN, "volume": True}, {"volume": "volume must be a number, got true."}),
        ({**OPEN, "volume": None}, {"volume": "volume is null: give a value or leave the field out."}),
        ({**OPEN, "volume": {}}, {"volume": "volume must be a number, got an object."}),
        ({**OPEN, "volume": [0.1]}, {"volume": "volume must be a number, got a list."}),
        ({**OPEN, "volume": "abc"}, {"volume": 'volume must be a number, got "abc".'}),
        ({**OPEN, "volume": ""}, {"volume": 'volume must be a number, got "".'}),
        ({**OPEN, "volume": "0,10"}, {"volume": 'volume must be a number, got "0,10".'}),
        ({**OPEN, "volume": "\u0661"}, {"volume": "volume must be a number"}),  # an Arabic-Indic 1
        ({**OPEN, "volume": "0x10"}, {"volume": "volume must be a number"}),
        ({**OPEN, "volume": float("nan")}, {"volume": "volume must be a finite number, got nan."}),
        ({**OPEN, "volume": float("inf")}, {"volume": "volume must be a finite number, got inf."}),
        ({**OPEN, "volume": "NaN"}, {"volume": 'volume must be a finite number, got "NaN".'}),
        ({**OPEN, "volume": "-Infinity"}, {"volume": 'volume must be a finite number, got "-Infinity".'}),
        ({**OPEN, "volume": Decimal("NaN")}, {"volume": "volume must be a finite number, got NaN."}),
        ({**OPEN, "volume": "1e400"}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": "1e999999999999999999999"}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": 1e300}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": "9" * 5000}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": 10**25}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": "0.000000000000000000001"}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": "1.00000000000000000001"}, {"volume": "volume has more than 20 digits."}),
        ({**OPEN, "volume": "{{strategy.order.contracts}}"}, {"volume": "volume is the unrendered placeholder"}),
        ({"action": "buy", "symbol": "X", "risk": 0, "sl": 1}, {"risk": "risk must be more than 0 (% of balance)"}),
        ({"action": "buy", "symbol": "X", "risk": "101", "sl": 1}, {"risk": "risk must be at most 100 (% of balance)"}),
        (
            {"action": "buy", "symbol": "X", "risk": 1, "tp": 2},
            {"risk": "risk needs stop_loss or sl_pips: the loss at the stop sizes the order."},
        ),
        # order_type and price
        ({**OPEN, "order_type": "twap"}, {"order_type": 'order_type "twap" is not one of MARKET, LIMIT, STOP.'}),
        ({**OPEN, "order_type": "limit"}, {"price": "price is required for a limit order."}),
        ({**OPEN, "order_type": "STOP"}, {"price": "price is required for a stop order."}),
        ({**OPEN, "order_type": "limit", "price": 0}, {"price": "price must be more than 0, got 0."}),
        ({**OPEN, "price": "2e9"}, {"price": "price must be at most 1000000000, got 2000000000."}),
        # TP/SL
        ({**OPEN, "tp": 2450, "take_profit": 2450}, {"tp": "tp is another name for take_profit: give one of them."}),
        ({**OPEN, "sl": 2400, "stop_loss": 2400}, {"sl": "sl is another name for stop_loss: give one of them."}),
        (
            {**OPEN, "take_profit": 2450, "tp_pips": 10},
            {"tp_pips": "tp_pips cannot be given with take_profit: set the take profit as a price or in pips."},
        ),
        (
            {**OPEN, "sl": 2400, "sl_pips": 10},
            {"sl_pips": "sl_pips cannot be given with sl: set the stop loss as a price or in pips."},
        ),
        ({**OPEN, "sl_pips": -5}, {"sl_pips": "sl_pips must be more than 0 pips, got -5."}),
        ({**OPEN, "tp_pips": "0"}, {"tp_pips": "tp_pips must be more than 0 pips, got 0."}),
        ({**OPEN, "stop_loss": "{{low}}"}, {"stop_loss": "stop_loss is the unrendered placeholder {{low}}"}),
        (
            {**OPEN, "order_type": "limit", "price": 2412.5, "sl": 2420},
            {"sl": "sl (2420) must be below the price (2412.5) of a buy order."},
        ),
        (
            {**OPEN, "order_type": "limit", "price": 2412.5, "take_profit": "2412.50"},
            {"take_profit": "take_profit (2412.50) must be above the price (2412.5) of a buy order."},
        ),
        (
            {**OPEN, "action": "short", "order_type": "stop", "price": 10, "stop_loss": 9, "tp": 11},
            {
                "stop_loss": "stop_loss (9) must be above the price (10) of a sell order.",
                "tp": "tp (11) must be below the price (10) of a sell order.",
            },
        ),
        ({**OPEN, "sl": 2450, "tp": 2400}, {"sl": "sl (2450) must be below tp (2400) for a buy."}),
        ({**OPEN, "action": "sell", "sl": 1, "tp": 2}, {"sl": "sl (1) must be above tp (2) for a sell."}),
        # accounts
        ({**OPEN, "accounts": "1123456"}, {"accounts": 'accounts must be a list of account logins or ids like ["1'}),
        ({**OPEN, "accounts": []}, {"accounts": "accounts is empty: leave it out to send to every account."}),
        ({**OPEN, "accounts": ["1"] * 101}, {"accounts": "accounts lists 101 accounts; at most 100."}),
        ({**OPEN, "accounts": [True]}, {"accounts": "accounts[0] must be text or a whole number, got true."}),
        ({**OPEN, "accounts": ["1", None]}, {"accounts": "accounts[1] must be text or a whole number, got null."}),
        ({**OPEN, "accounts": [1.5]}, {"accounts": "accounts[0] must be text or a whole number, got 1.5."}),
        ({**OPEN, "accounts": [-5]}, {"accounts": "accounts[0] must be a positive number or text, got -5."}),
        ({**OPEN, "accounts": [" "]}, {"accounts": "accounts[0] is empty."}),
        ({**OPEN, "accounts": ["a" * 65]}, {"accounts": "accounts[0] is 65 characters long; at most 64."}),
        ({**OPEN, "accounts": ["1\x07"]}, {"accounts": "accounts[0] contains a control or invisible character"}),
        ({**OPEN, "accounts": ["{{login}}"]}, {"accounts": "accounts[0] is the unrendered placeholder {{login}}"}),
        ({**OPEN, "account": None}, {"account": "account is null: give a value or leave the field out."}),
        ({**OPEN, "account": ""}, {"account": "account is empty."}),
        ({**OPEN, "account": ["1"]}, {"account": "account must be text or a whole number, got a list."}),
        (
            {**OPEN, "account": "1", "accounts": ["2"]},
            {"account": "account and accounts cannot both be given: name one account, or several in accounts."},
        ),
        # ticket and side
        ({"action": "close", "ticket": "abc"}, {"ticket": "ticket must be a position ticket, a whole number like"}),
        ({"action": "close", "ticket": 1.0}, {"ticket": "ticket must be a position ticket, a whole number like"}),
        ({"action": "close", "ticket": True}, {"ticket": "ticket must be a position ticket, a whole number like"}),
        ({"action": "close", "ticket": "12x"}, {"ticket": "ticket must be a position ticket, a whole number like"}),
        ({"action": "close", "ticket": 0}, {"ticket": "ticket must be a positive ticket number, got 0."}),
        ({"action": "close", "ticket": -3}, {"ticket": "ticket must be a positive ticket number, got -3."}),
        ({"action": "close", "ticket": 2**63}, {"ticket": "ticket must be a positive ticket number"}),
        ({"action": "close", "ticket": "{{ticket}}"}, {"ticket": "ticket is the unrendered placeholder {{ticket}}"}),
        ({"action": "close", "ticket": None}, {"ticket": "ticket is null: give a value or leave the field out."}),
        (
            {"action": "close", "symbol": "X", "side": "flat"},
            {"side": 'side "flat" is not one of BUY, SELL, LONG, SHORT.'},
        ),
        # comment and id
        ({**OPEN, "comment": 42}, {"comment": "comment must be text, got 42."}),
        ({**OPEN, "comment": "x" * 101}, {"comment": "comment is 101 characters long; at most 100."}),
        ({**OPEN, "comment": "a\nb"}, {"comment": "comment contains a control or invisible character (U+000A)."}),
        ({**OPEN, "id": ""}, {"id": "id is empty."}),
        ({**OPEN, "id": "k" * 201}, {"id": "id is 201 characters long; at most 200."}),
        ({**OPEN, "id": "a\tb"}, {"id": "id contains a control or invisible character (U+0009)."}),
        ({**OPEN, "id": ["a"]}, {"id": "id must be text or a whole number, got a list."}),
        ({**OPEN, "id": "alert-{{timenow}}"}, {"id": "id contains the unrendered placeholder {{timenow}}"}),
    ],
)
def test_bad_fields_are_named_with_a_reason(body, expected):
    errors = errors_of(body)

    assert set(errors) == set(expected), errors
    for field, message in expected.items():
        assert any(text.startswith(message) for text in errors[field]), errors[field]


def test_tradingview_text_with_an_unrendered_price_is_refused_by_name():
    body = {"action": "buy", "symbol": "OANDA:XAUUSD", "volume": "0.10", "price": "{{close}}"}

    with pytest.raises(PayloadError) as caught:
        parse_signal(body)

    assert caught.value.errors == {"price": ["price is the unrendered placeholder {{close}}: check the alert message."]}
    assert (
        caught.value.detail
        == "The signal is invalid: price is the unrendered placeholder {{close}}: check the alert message."
    )


def test_every_bad_field_is_reported_at_once():
    body = {
        "action": "buy",
        "symbol": ["XAUUSD"],
        "volume": "{{strategy.order.contracts}}",
        "order_type": "limit",
        "tp": 1,
        "take_profit": 2,
        "accounts": ["1", {}, "2\x00"],
        "comment": None,
    }

    with pytest.raises(PayloadError) as caught:
        parse_signal(body)

    assert caught.value.errors == {
        "symbol": ["symbol must be text, got a list."],
        "volume": ["volume is the unrendered placeholder {{strategy.order.contracts}}: check the alert message."],
        "tp": ["tp is another name for take_profit: give one of them."],
        "price": ["price is required for a limit order."],
        "accounts": [
            "accounts[1] must be text or a whole number, got an object.",
            "accounts[2] contains a control or invisible character (U+0000).",
        ],
        "comment": ["comment is null: give a value or leave the field out."],
    }
    # In the body's order, so a trader reads them along the alert message.
    assert caught.value.detail == "The signal has 6 invalid fields: symbol, volume, tp, accounts, comment, price."


def test_one_field_with_several_errors_gets_a_one_line_detail():
    with pytest.raises(PayloadError) as caught:
        parse_signal({**OPEN, "accounts": [None, True, []]})

    assert len(caught.value.errors["accounts"]) == 3
    assert caught.value.detail == (
        "The signal is invalid: accounts[0] must be text or a whole number, got null. (and 2 more)"
    )


def test_an_unknown_action_still_checks_every_other_field_but_requires_none():
    errors = errors_of({"action": "hold", "symbol": "", "volume": -1, "ticket": "x", "side": 3})

    assert set(errors) == {"action", "symbol", "volume", "ticket", "side"}
    assert errors_of({"action": "hold"}) == {
        "action": ['action "hold" is not one of BUY, SELL, LONG, SHORT, CLOSE, CLOSE_SYMBOL, CLOSE_ALL.']
    }


def test_messages_quote_a_huge_value_only_in_part():
    errors = errors_of({**OPEN, "action": "B" * 10_000 + "\x00", "volume": "\x1b[31m" + "9" * 10_000})

    actions = "BUY, SELL, LONG, SHORT, CLOSE, CLOSE_SYMBOL, CLOSE_ALL"
    assert errors["action"] == [f'action "{"B" * 30}"… is not one of {actions}.']
    # 30 characters of the escaped text: "\\u001b[31m" takes ten of them.
    assert errors["volume"] == [f'volume must be a number, got "\\u001b[31m{"9" * 20}"….']


@pytest.mark.parametrize("body", [[], [OPEN], "BUY", None, 1])
def test_a_body_that_is_not_an_object_is_refused(body):
    assert errors_of(body) == {"non_field_errors": ["The signal must be a JSON object."]}


# --- Random bodies ---------------------------------------------------------------------------------------------

# Text as a hostile sender would write it: control, zero-width and surrogate characters, placeholders, digits.
hostile_text = st.one_of(
    st.text(max_size=50),
    st.text(st.sampled_from(list("\x00\x07\t\n \u200b\ufeff\ud800{}:.,+-eE0123456789XAUSD")), max_size=50),
    st.sampled_from(["NaN", "Infinity", "-inf", "1e400", "1e999999999999999999", "{{close}}", "9" * 400]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # nan, ±inf, ±0, subnormals and 1.8e308 included
    st.decimals(),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
positive = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=3000, places=2).map(str),
    st.floats(min_value=0.01, max_value=3000).map(lambda x: round(x, 2)),
    st.integers(min_value=1, max_value=3000),
)
# Values a real alert might carry.
likely = {
    "action": st.sampled_from(["buy", "SELL", " long ", "Short", "close", "CLOSE_ALL", "close_symbol"]),
    "symbol": st.sampled_from(["XAUUSD", "OANDA:XAUUSD", "eurusd", "US30.cash"]),
    "volume": st.one_of(positive, st.just("0.10")),
    "risk": st.sampled_from([0.5, "1", 2, "100"]),
    "order_type": st.sampled_from(["market", "LIMIT", "stop"]),
    "side": st.sampled_from(["buy", "sell", "LONG", "short"]),
    "accounts": st.lists(st.one_of(st.integers(min_value=1, max_value=10**9), hostile_text), max_size=4),
    "ticket": st.one_of(st.integers(1, 10**9), st.integers(1, 10**6).map(str), st.integers(-1, 2**64)),
    "comment": st.text(max_size=120),
    "id": hostile_text,
    "token": st.just("whk_x"),
}


@st.composite
def alert_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A sensible alert with a few fields added, changed or dropped: many are valid, so accepted ones get checked."""
    body = {
        name: draw(likely.get(name, positive))
        for name in ("action", "symbol", "volume", "order_type", "price", "ticket")
    }
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=5)):
        body[name] = draw(st.one_of(likely.get(name, positive), likely.get(name, positive), json_scalars, json_values))
    for name in draw(st.lists(st.sampled_from(list(body)), unique=True, max_size=2)):
        del body[name]
    return body


# No example database: a failure prints its body, and the suite leaves no state behind. Recursive JSON can be
# slow to generate on a loaded CI machine, which is not a failure of the code under test.
FAST = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def check_outcome(body: dict) -> None:
    """parse_signal returns a request that keeps every promise, or raises PayloadError with clear messages."""
    try:
        request = parse_signal(body)
    except PayloadError as error:
        assert error.errors and set(error.errors) <= set(FIELDS) | set(body)
        assert "\n" not in error.detail
        for message in (text for messages in error.errors.values() for text in messages):
            # Quoted values are cut and escaped: a reply never carries kilobytes or control characters.
            assert isinstance(message, str) and message.isprintable() and len(message) <= 200, message
        return
    assert_invariants(request)


def assert_invariants(request: SignalRequest) -> None:
    prices = [request.price, request.stop_loss, request.take_profit, request.sl_pips, request.tp_pips]
    for number in [request.volume, request.risk, *prices]:
        assert number is None or (isinstance(number, Decimal) and number.is_finite() and number > 0)
    if request.symbol:
        assert 1 <= len(request.symbol) <= 40 and request.symbol == request.symbol.upper()
        assert request.symbol.isprintable() and " " not in request.symbol and ":" not in request.symbol
    assert len(set(request.accounts)) == len(request.accounts) <= 100
    assert all(isinstance(account, str) and account.isprintable() and account for account in request.accounts)
    assert request.comment.isprintable() and len(request.comment) <= 100
    key = request.idempotency_key
    assert key is None or (1 <= len(key) <= 200 and key.isprintable() and key == key.strip())
    assert "token" not in request.ignored_fields

    if request.kind == "open":
        assert request.symbol and request.side in ("buy", "sell") and request.ticket is None
        assert (request.volume is None) != (request.risk is None)
        assert request.volume is None or request.volume <= 1000
        assert request.risk is None or (request.risk <= 100 and (request.stop_loss or request.sl_pips))
        assert not (request.stop_loss and request.sl_pips) and not (request.take_profit and request.tp_pips)
        assert request.order_type in ("market", "limit", "stop")
        if request.order_type != "market":
            assert request.price is not None
            below, above = (request.stop_loss, request.take_profit)[:: 1 if request.side == "buy" else -1]
            assert below is None or below < request.price
            assert above is None or above > request.price
        return
    assert request.order_type == "market" and request.volume is request.risk is None
    assert all(number is None for number in prices)
    if request.kind == "close_ticket":
        assert request.ticket is not None and 0 < request.ticket < 2**63 and request.side is None
    elif request.kind == "close_symbol":
        assert request.symbol and request.ticket is None
    else:
        assert request.kind == "close_all"
        assert not request.symbol and request.ticket is None and request.side is None


def test_a_value_full_of_escapes_is_shown_cut_to_its_bound():
    # Found by the property test below: control and astral characters grow when escaped.
    check_outcome({"action": "00000000" + "\x1f" * 12 + "\x07" * 3 + "\U00010000" * 2, "symbol": "XAUUSD"})
    check_outcome({"action": "\x00" * 5000, "symbol": "XAUUSD"})


@FAST
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_random_json_objects_are_accepted_or_refused_cleanly(body):
    check_outcome(body)


@FAST
@given(alert_bodies())
def test_random_alerts_are_accepted_or_refused_cleanly(body):
    check_outcome(body)


@FAST
@given(
    st.one_of(
        json_scalars,
        st.from_regex(r"\s*[+-]?[0-9]{0,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,25})?\s*", fullmatch=True),
    )
)
def test_any_volume_is_a_bounded_decimal_or_an_error_of_that_field(volume):
    try:
        request = parse_signal({**OPEN, "volume": volume})
    except PayloadError as error:
        assert set(error.errors) == {"volume"}
        return
    assert request.volume is not None and request.volume.is_finite() and 0 < request.volume <= 1000


@FAST
@given(
    action=st.sampled_from(["buy", "SELL", "Long", "short"]),
    symbol=st.from_regex(r"(OANDA:)?[A-Za-z0-9._#]{1,40}", fullmatch=True),
    volume=st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2),
    as_text=st.booleans(),
)
def test_well_formed_market_orders_are_always_accepted(action, symbol, volume, as_text):
    request = parse_signal({"action": action, "symbol": symbol, "volume": str(volume) if as_text else float(volume)})

    assert request.side == ("buy" if action.upper() in ("BUY", "LONG") else "sell")
    assert request.symbol == symbol.removeprefix("OANDA:").upper()
    assert request.volume == volume
    assert_invariants(request)
