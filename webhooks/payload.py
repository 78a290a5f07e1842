"""The TradingView alert contract (docs/webhook.md): a parsed JSON object in, a SignalRequest or every field error out.

Pure (no database, no settings), so the webhook view, the manual-order API and the tests share one set of rules.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from mt5saas.numbers import NumberError, NumberProblem, decimal_parse

Kind = Literal["open", "close_ticket", "close_symbol", "close_all"]
Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop"]

T = TypeVar("T")

# CLOSE maps to no kind: it is close_ticket or close_symbol depending on whether a ticket is given.
_ACTIONS: dict[str, tuple[Kind | None, Side | None]] = {
    "BUY": ("open", "buy"),
    "SELL": ("open", "sell"),
    "LONG": ("open", "buy"),
    "SHORT": ("open", "sell"),
    "CLOSE": (None, None),
    "CLOSE_SYMBOL": ("close_symbol", None),
    "CLOSE_ALL": ("close_all", None),
}
_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell", "LONG": "buy", "SHORT": "sell"}
_ORDER_TYPES: tuple[OrderType, ...] = ("market", "limit", "stop")

_COMMON_FIELDS = frozenset({"action", "accounts", "account", "comment", "id"})
_PRICE_FIELDS = frozenset({"price", "take_profit", "tp", "stop_loss", "sl", "tp_pips", "sl_pips"})
_KIND_FIELDS: dict[Kind, frozenset[str]] = {
    "open": frozenset({"symbol", "volume", "risk", "order_type"}) | _PRICE_FIELDS,
    "close_ticket": frozenset({"ticket", "symbol"}),
    "close_symbol": frozenset({"symbol", "side"}),
    "close_all": frozenset(),
}
# Used when the action is unknown: every field is checked so that all errors come back at once.
_ALL_FIELDS = _COMMON_FIELDS.union(*_KIND_FIELDS.values())
# Every name the parser reads ("token" authenticates POST /webhook/ before the body is parsed).
KNOWN_FIELDS = _ALL_FIELDS | {"token"}

# Known fields that pick where or how much is traded: one an action does not read is refused,
# never dropped (a CLOSE with a volume would otherwise close the whole position).
_STEERING_FIELDS = frozenset({"symbol", "side", "ticket", "volume", "risk"})
# Unknown names that look like targeting or sizing (the single-user bot's "close_percent", a
# "lots" or "qty" from another bridge's template): refused for the same reason. Matched on the
# name lower-cased with "-" and " " as "_", so closePercent and close-percent match too.
_STEERING_NAMES = re.compile(
    r"^(?:account|login|lot|qty|quantit|size$|contracts?$|units?$|amount|risk|partial|close_|symbol|ticket"
    r"|position|side|direction)|volume|percent|pct",
    re.ASCII,
)
# TradingView's {{strategy.position_size}} and its kin, which templates carry as information:
# what the strategy holds, not what to trade. Listed as ignored like ticker, interval or timenow.
_TRADINGVIEW_SIZES = frozenset({"position_size", "market_position_size", "prev_market_position_size"})

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


@dataclass(frozen=True, kw_only=True)
class SignalRequest:
    """A valid alert: for "open" side, symbol and exactly one of volume/risk are set; pending orders have a price."""

    kind: Kind
    side: Side | None = None  # open: always set; close_symbol: None closes both sides
    symbol: str = ""  # upper-case, exchange prefix removed; "" for close_all (and close_ticket without one)
    order_type: OrderType = "market"
    volume: Decimal | None = None  # lots
    risk: Decimal | None = None  # % of balance lost at the stop
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    sl_pips: Decimal | None = None
    tp_pips: Decimal | None = None
    accounts: tuple[str, ...] = ()  # logins or ids as given; () leaves the choice to the caller (signal_receive)
    accounts_field: str = "accounts"  # the field they came from: "account" names one
    ticket: int | None = None
    comment: str = ""
    idempotency_key: str | None = None
    ignored_fields: tuple[str, ...] = ()  # unknown, or without effect for this action


class PayloadError(Exception):
    """Every problem of a body: `errors` maps a field to its messages (DRF-style), `detail` is one line."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        if len(errors) == 1:
            first, *others = next(iter(errors.values()))
            self.detail = f"The signal is invalid: {first}" + (f" (and {len(others)} more)" if others else "")
        else:
            self.detail = f"The signal has {len(errors)} invalid fields: {', '.join(errors)}."
        super().__init__(self.detail)


class _Invalid(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


def _shown(value: object) -> str:
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
        raise _Invalid(f"{name} {verb} the unrendered placeholder {match.group()}: check the alert message.")


def _reject_invisible(name: str, text: str, *, spaces: bool) -> None:
    # isprintable() is False for control, format (zero-width), surrogate and unassigned characters,
    # and for every separator but the plain space.
    for char in text:
        if not char.isprintable():
            raise _Invalid(f"{name} contains a control or invisible character (U+{ord(char):04X}).")
        if char == " " and not spaces:
            raise _Invalid(f"{name} contains a space.")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be text, got {_shown(value)}.")
    text = value.strip()
    _reject_placeholder(name, text)
    if not text:
        raise _Invalid(f"{name} is empty.")
    return text


def _choice(name: str, value: object, choices: Mapping[str, T]) -> T:
    key = _text(name, value).upper()
    if key not in choices:
        raise _Invalid(f"{name} {_shown(value)} is not one of {', '.join(choices)}.")
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
        words = {"name": name, "shown": _shown(value), "unit": unit, "number": error.number, "maximum": maximum}
        raise _Invalid(message.format(**words)) from None


def _volume(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_VOLUME, unit=" lots")


def _risk(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_RISK, unit=" (% of balance)")


def _price(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_PRICE, unit="")


def _pips(name: str, value: object) -> Decimal:
    return _positive(name, value, maximum=_MAX_PIPS, unit=" pips")


def _action(name: str, value: object) -> str:
    return _choice(name, value, {action: action for action in _ACTIONS})


def _side(name: str, value: object) -> Side:
    return _choice(name, value, _SIDES)


def _order_type(name: str, value: object) -> OrderType:
    return _choice(name, value, {order_type.upper(): order_type for order_type in _ORDER_TYPES})


def _symbol(name: str, value: object) -> str:
    text = _text(name, value).upper()
    # TradingView's {{exchange}}:{{ticker}} style; the broker's name comes from the account's symbol map.
    exchange, colon, symbol = text.partition(":")
    symbol = symbol.strip() if colon else exchange
    if ":" in symbol:
        raise _Invalid(f"{name} {_shown(value)} has more than one exchange prefix.")
    if not symbol:
        raise _Invalid(f"{name} {_shown(value)} has an exchange prefix but no symbol after it.")
    if len(symbol) > _MAX_SYMBOL:
        raise _Invalid(f"{name} is {len(symbol)} characters long; at most {_MAX_SYMBOL}.")
    _reject_invisible(name, symbol, spaces=False)
    return symbol


def _ticket(name: str, value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", text := value.strip(), re.ASCII):
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        if isinstance(value, str):
            _reject_placeholder(name, value)
        # A float is refused even when whole: past 2**53 it no longer names the same position.
        raise _Invalid(f"{name} must be a position ticket, a whole number like 123456, got {_shown(value)}.")
    if not 0 < number <= _MAX_TICKET:
        raise _Invalid(f"{name} must be a positive ticket number, got {_shown(number)}.")
    return number


def _reference(name: str, value: object, *, max_length: int) -> str:
    """A login, an id or an idempotency key: text, or a whole number kept as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 10**_MAX_DIGITS:
            raise _Invalid(f"{name} must be a positive number or text, got {_shown(value)}.")
        return str(value)
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be text or a whole number, got {_shown(value)}.")
    text = _text(name, value)
    if len(text) > max_length:
        raise _Invalid(f"{name} is {len(text)} characters long; at most {max_length}.")
    _reject_invisible(name, text, spaces=True)
    return text


def _accounts(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(f'{name} must be a list of account logins or ids like ["1123456"], got {_shown(value)}.')
    if not value:
        raise _Invalid(f"{name} is empty: leave it out to send to every account.")
    if len(value) > _MAX_ACCOUNTS:
        raise _Invalid(f"{name} lists {len(value)} accounts; at most {_MAX_ACCOUNTS}.")
    references, problems = [], []
    for index, item in enumerate(value):
        try:
            references.append(_reference(f"{name}[{index}]", item, max_length=_MAX_ACCOUNT_REF))
        except _Invalid as invalid:
            problems.extend(invalid.messages)
    if problems:
        raise _Invalid(*problems)
    return tuple(dict.fromkeys(references))


def _idempotency_key(name: str, value: object) -> str:
    return _reference(name, value, max_length=_MAX_KEY)


def _comment(name: str, value: object) -> str:
    # Placeholders are let through: a wrong comment should not stop a trade.
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be text, got {_shown(value)}.")
    text = value.strip()
    if len(text) > _MAX_COMMENT:
        raise _Invalid(f"{name} is {len(text)} characters long; at most {_MAX_COMMENT}.")
    _reject_invisible(name, text, spaces=True)
    return text


class _Reader:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, *messages: str) -> None:
        self.errors.setdefault(name, []).extend(messages)

    def read(self, name: str, parse: Callable[[str, Any], T]) -> T | None:
        """The parsed value; None when the field is absent or invalid (its error is then recorded)."""
        if name not in self.data:
            return None
        if (value := self.data[name]) is None:
            self.add(name, f"{name} is null: give a value or leave the field out.")
            return None
        try:
            return parse(name, value)
        except _Invalid as invalid:
            self.add(name, *invalid.messages)
            return None

    def read_leg(self, name: str, alias: str) -> tuple[str, Decimal | None]:
        """A TP or SL price under its name or its alias: the name the trader used, and the price."""
        if name in self.data and alias in self.data:
            self.add(alias, f"{alias} is another name for {name}: give one of them.")
            return name, None
        used = alias if alias in self.data else name
        return used, self.read(used, _price)


def parse_signal(data: Mapping[str, Any]) -> SignalRequest:
    """Validate and normalise one alert body; raises PayloadError with every field error, never anything else."""
    if not isinstance(data, Mapping):
        raise PayloadError({"non_field_errors": ["The signal must be a JSON object."]})
    reader = _Reader(data)
    action = reader.read("action", _action)
    if "action" not in data:
        reader.add("action", f"action is required: one of {', '.join(_ACTIONS)}.")
    kind, side = _ACTIONS[action] if action else (None, None)
    if action == "CLOSE":
        kind = "close_ticket" if "ticket" in data else "close_symbol"
    used = _COMMON_FIELDS | (_KIND_FIELDS[kind] if kind else _ALL_FIELDS)
    if kind == "open" and "side" in data:
        _agreeing_side(reader, action, side)
        used |= {"side"}
    ignored = _unread(reader, action, used)

    accounts = reader.read("accounts", _accounts) or ()
    if (account := reader.read("account", _account)) is not None:
        accounts = (account,)
    if "account" in data and "accounts" in data:
        reader.add("account", "account and accounts cannot both be given: name one account, or several in accounts.")
    comment = reader.read("comment", _comment) or ""
    key = reader.read("id", _idempotency_key)
    symbol = reader.read("symbol", _symbol) if "symbol" in used else None
    ticket = reader.read("ticket", _ticket) if "ticket" in used else None
    close_side = reader.read("side", _side) if "side" in used else None
    if kind in ("open", "close_symbol") and "symbol" not in data:
        if action == "CLOSE":
            reader.add("symbol", "CLOSE needs a symbol (its positions) or a ticket (one position).")
        else:
            reader.add("symbol", f"symbol is required for {action}.")

    request: dict[str, Any] = {}
    if kind in ("open", None):
        request = _open_fields(reader, side)

    if reader.errors:
        # In the body's order; "required" errors of absent fields last.
        position = {name: index for index, name in enumerate(data)}
        raise PayloadError(dict(sorted(reader.errors.items(), key=lambda item: position.get(item[0], len(data)))))
    assert kind is not None  # a valid action always settles the kind
    return SignalRequest(
        kind=kind,
        side=side or close_side,
        symbol=symbol or "",
        accounts=accounts,
        accounts_field="account" if "account" in data else "accounts",
        ticket=ticket,
        comment=comment,
        idempotency_key=key,
        ignored_fields=ignored,
        **request,
    )


def _unread(reader: _Reader, action: str | None, used: frozenset[str]) -> tuple[str, ...]:
    """The body's fields no part of this action reads: harmless ones are returned (the reply
    lists them as ignored); one that would pick where or how much is traded is an error."""
    ignored = []
    for name in reader.data:
        # The token authenticated the request already (POST /webhook/ carries it in the body).
        if name in used or name == "token":
            continue
        if name in _STEERING_FIELDS:
            reader.add(name, _UNREAD_MESSAGES.get((action, name), _UNREAD_MESSAGE).format(name=name, action=action))
        elif name not in _TRADINGVIEW_SIZES and _STEERING_NAMES.search(re.sub(r"[- ]", "_", name.lower())):
            reader.add(
                name,
                f"{_shown(name)} is not a field this service reads, and it looks like it sizes or targets the "
                "trade: the alert is refused rather than traded without it.",
            )
        else:
            ignored.append(name)
    return tuple(ignored)


_UNREAD_MESSAGE = "{name} cannot be used with {action}, which does not read it: the alert is refused rather than traded without it."  # noqa: E501
_WHOLE = "{name} cannot be used with {action}, which closes whole positions: leave {name} out to close them whole."
_UNREAD_MESSAGES = {
    ("CLOSE", "volume"): _WHOLE,
    ("CLOSE", "risk"): _WHOLE,
    ("CLOSE_SYMBOL", "volume"): _WHOLE,
    ("CLOSE_SYMBOL", "risk"): _WHOLE,
    ("CLOSE_ALL", "volume"): _WHOLE,
    ("CLOSE_ALL", "risk"): _WHOLE,
    ("CLOSE_ALL", "symbol"): "symbol cannot be used with CLOSE_ALL, which closes every position: use CLOSE with a symbol to close that symbol's positions.",  # noqa: E501
    ("CLOSE_ALL", "side"): "side cannot be used with CLOSE_ALL, which closes the positions of both sides: use CLOSE with a symbol and a side.",  # noqa: E501
    ("CLOSE", "side"): "side cannot be used with a CLOSE of one ticket: the ticket names the position.",
}


def _agreeing_side(reader: _Reader, action: str | None, side: Side | None) -> None:
    """An opening action gives the side; a "side" field may repeat it, never contradict it."""
    given = reader.read("side", _side)
    if given is not None and given != side:
        reader.add("side", f"side {given} contradicts action {action}: give one direction.")


def _account(name: str, value: object) -> str:
    return _reference(name, value, max_length=_MAX_ACCOUNT_REF)


def _open_fields(reader: _Reader, side: Side | None) -> dict[str, Any]:
    """Sizing, order type, price and stops of an opening order.

    Without a side (the action is unknown) each field is checked alone: what is required depends on the action.
    """
    data = reader.data
    volume = reader.read("volume", _volume)
    risk = reader.read("risk", _risk)
    order_type = reader.read("order_type", _order_type) or "market"
    price = reader.read("price", _price)
    tp_name, take_profit = reader.read_leg("take_profit", "tp")
    sl_name, stop_loss = reader.read_leg("stop_loss", "sl")
    tp_pips = reader.read("tp_pips", _pips)
    sl_pips = reader.read("sl_pips", _pips)

    if "volume" in data and "risk" in data:
        reader.add("risk", "risk cannot be given with volume: size the order in lots (volume) or % of balance (risk).")
    elif side and "volume" not in data and "risk" not in data:
        reader.add("volume", "volume (lots) or risk (% of balance) is required to open a position.")
    elif side and "risk" in data and sl_name not in data and "sl_pips" not in data:
        reader.add("risk", "risk needs stop_loss or sl_pips: the loss at the stop sizes the order.")
    for leg, pips, what in ((tp_name, "tp_pips", "take profit"), (sl_name, "sl_pips", "stop loss")):
        if leg in data and pips in data:
            reader.add(pips, f"{pips} cannot be given with {leg}: set the {what} as a price or in pips.")
    if side and order_type != "market" and "price" not in data:
        reader.add("price", f"price is required for a {order_type} order.")

    # Market orders are checked against the live quote when they are sent; here only what the body alone decides.
    below, above = ("below", "above") if side == "buy" else ("above", "below")
    if side and price is not None and order_type != "market":
        if stop_loss is not None and not _in_order(stop_loss, price, side):
            reader.add(sl_name, f"{sl_name} ({stop_loss}) must be {below} the price ({price}) of a {side} order.")
        if take_profit is not None and not _in_order(price, take_profit, side):
            reader.add(tp_name, f"{tp_name} ({take_profit}) must be {above} the price ({price}) of a {side} order.")
    elif side and stop_loss is not None and take_profit is not None and not _in_order(stop_loss, take_profit, side):
        reader.add(sl_name, f"{sl_name} ({stop_loss}) must be {below} {tp_name} ({take_profit}) for a {side}.")

    return {
        "order_type": order_type,
        "volume": volume,
        "risk": risk,
        "price": price,
        "stop_loss": stop_loss,
        "take_profit": take_profit,
        "sl_pips": sl_pips,
        "tp_pips": tp_pips,
    }


def _in_order(low: Decimal, high: Decimal, side: Side) -> bool:
    """Stop, entry, target in that order: rising for a buy, falling for a sell; equal prices are never in order."""
    return low < high if side == "buy" else low > high
