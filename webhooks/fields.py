"""One field of an alert body (docs/webhook.md): each reader takes the field's name and value and
returns it normalised, or raises FieldInvalid with every message; webhooks.payload reads a body with them."""

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TypeVar

from mt5saas.numbers import NumberError, NumberProblem, decimal_parse

T = TypeVar("T")

_MAX_DIGITS = 20  # written out in full: a price has ~10, a lot size ~5
_MAX_VOLUME = Decimal(1000)
_MAX_PRICE = Decimal(10**9)
_MAX_PIPS = Decimal(10**6)
_MAX_RISK = Decimal(100)
_MAX_TICKET = 2**63 - 1  # MT5 tickets are uint64; this is what a BigIntegerField holds
_MAX_SYMBOL = 40
_MAX_ACCOUNTS = 100
_MAX_ACCOUNT_REF = 64
_MAX_COMMENT = 100
_MAX_KEY = 200
_SHOWN_CHARS = 30  # a value quoted back in a message is cut: the reply never echoes kilobytes

# TradingView leaves a placeholder it does not know ({{clsoe}}) as written. Printable ASCII only: it is quoted back.
_PLACEHOLDER = re.compile(r"\{\{[ -z|~]{1,60}?\}\}")


class FieldInvalid(Exception):
    """A field's value is refused; `messages` say why, each naming the field."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


def shown(value: object) -> str:
    """A user's value for a message: short, escaped, and never the kilobytes or control characters it may hold."""
    if isinstance(value, str):
        # Cut the escaped text, not the raw one: one control character escapes to six.
        pieces, used = [], 0
        for character in value:
            piece = json.dumps(character)[1:-1]
            if used + len(piece) > _SHOWN_CHARS:
                break
            pieces.append(piece)
            used += len(piece)
        return '"' + "".join(pieces) + '"' + ("…" if len(pieces) < len(value) else "")
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**_MAX_DIGITS else f"a number of more than {_MAX_DIGITS} digits"
    if isinstance(value, float | Decimal):
        return str(value) if len(str(value)) <= _SHOWN_CHARS else f"a number of more than {_MAX_DIGITS} digits"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _reject_placeholder(name: str, text: str) -> None:
    if match := _PLACEHOLDER.search(text):
        verb = "is" if match.group() == text else "contains"
        raise FieldInvalid(f"{name} {verb} the unrendered placeholder {match.group()}: check the alert message.")


def _reject_invisible(name: str, text: str, *, spaces: bool) -> None:
    # isprintable() is False for control, format (zero-width), surrogate and unassigned characters,
    # and for every separator but the plain space.
    for char in text:
        if not char.isprintable():
            raise FieldInvalid(f"{name} contains a control or invisible character (U+{ord(char):04X}).")
        if char == " " and not spaces:
            raise FieldInvalid(f"{name} contains a space.")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldInvalid(f"{name} must be text, got {shown(value)}.")
    text = value.strip()
    _reject_placeholder(name, text)
    if not text:
        raise FieldInvalid(f"{name} is empty.")
    return text


def choice(name: str, value: object, choices: Mapping[str, T]) -> T:
    key = _text(name, value).upper()
    if key not in choices:
        raise FieldInvalid(f"{name} {shown(value)} is not one of {', '.join(choices)}.")
    return choices[key]


_NUMBER_MESSAGES = {
    NumberProblem.WRONG_TYPE: "{name} must be a number, got {shown}.",
    NumberProblem.NOT_NUMERIC: "{name} must be a number, got {shown}.",
    NumberProblem.NOT_FINITE: "{name} must be a finite number, got {shown}.",
    NumberProblem.TOO_MANY_DIGITS: f"{{name}} has more than {_MAX_DIGITS} digits.",
    NumberProblem.BELOW_MINIMUM: "{name} must be more than 0{unit}, got {number}.",
    NumberProblem.ABOVE_MAXIMUM: "{name} must be at most {maximum}{unit}, got {number}.",
}


def _positive(name: str, value: object, *, maximum: Decimal, unit: str) -> Decimal:
    """A number above 0 and at most `maximum`, of at most _MAX_DIGITS digits written out."""
    if isinstance(value, str):
        _reject_placeholder(name, value.strip())
    try:
        return decimal_parse(value, maximum=maximum, positive=True, max_digits=_MAX_DIGITS)
    except NumberError as error:
        message = _NUMBER_MESSAGES[error.problem]
        words = {"name": name, "shown": shown(value), "unit": unit, "number": error.number, "maximum": maximum}
        raise FieldInvalid(message.format(**words)) from None


def volume(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_VOLUME, unit=" lots")


def risk(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_RISK, unit=" (% of balance)")


def price(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_PRICE, unit="")


def pips(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_PIPS, unit=" pips")


def symbol(name: str, value: object) -> str:
    text = _text(name, value).upper()
    # TradingView's {{exchange}}:{{ticker}} style; the broker's name comes from the account's symbol map.
    exchange, colon, ticker = text.partition(":")
    ticker = ticker.strip() if colon else exchange
    if ":" in ticker:
        raise FieldInvalid(f"{name} {shown(value)} has more than one exchange prefix.")
    if not ticker:
        raise FieldInvalid(f"{name} {shown(value)} has an exchange prefix but no symbol after it.")
    if len(ticker) > _MAX_SYMBOL:
        raise FieldInvalid(f"{name} is {len(ticker)} characters long; at most {_MAX_SYMBOL}.")
    _reject_invisible(name, ticker, spaces=False)
    return ticker


def ticket(name: str, value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", text := value.strip(), re.ASCII):
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        if isinstance(value, str):
            _reject_placeholder(name, value)
        # A float is refused even when whole: past 2**53 it no longer names the same position.
        raise FieldInvalid(f"{name} must be a position ticket, a whole number like 123456, got {shown(value)}.")
    if not 0 < number <= _MAX_TICKET:
        raise FieldInvalid(f"{name} must be a positive ticket number, got {shown(number)}.")
    return number


def _reference(name: str, value: object, *, max_length: int) -> str:
    """A login, an id or an idempotency key: text, or a whole number kept as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 10**_MAX_DIGITS:
            raise FieldInvalid(f"{name} must be a positive number or text, got {shown(value)}.")
        return str(value)
    if not isinstance(value, str):
        raise FieldInvalid(f"{name} must be text or a whole number, got {shown(value)}.")
    text = _text(name, value)
    if len(text) > max_length:
        raise FieldInvalid(f"{name} is {len(text)} characters long; at most {max_length}.")
    _reject_invisible(name, text, spaces=True)
    return text


def accounts(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise FieldInvalid(f'{name} must be a list of account logins or ids like ["1123456"], got {shown(value)}.')
    if not value:
        raise FieldInvalid(f"{name} is empty: leave it out to send to every account.")
    if len(value) > _MAX_ACCOUNTS:
        raise FieldInvalid(f"{name} lists {len(value)} accounts; at most {_MAX_ACCOUNTS}.")
    references, problems = [], []
    for index, item in enumerate(value):
        try:
            references.append(_reference(f"{name}[{index}]", item, max_length=_MAX_ACCOUNT_REF))
        except FieldInvalid as invalid:
            problems.extend(invalid.messages)
    if problems:
        raise FieldInvalid(*problems)
    return tuple(dict.fromkeys(references))


def account(name: str, value: object) -> str:
    return _reference(name, value, max_length=_MAX_ACCOUNT_REF)


def idempotency_key(name: str, value: object) -> str:
    return _reference(name, value, max_length=_MAX_KEY)


def comment(name: str, value: object) -> str:
    # Placeholders are let through: a wrong comment should not stop a trade.
    if not isinstance(value, str):
        raise FieldInvalid(f"{name} must be text, got {shown(value)}.")
    text = value.strip()
    if len(text) > _MAX_COMMENT:
        raise FieldInvalid(f"{name} is {len(text)} characters long; at most {_MAX_COMMENT}.")
    _reject_invisible(name, text, spaces=True)
    return text
