"""The TradingView alert contract (docs/webhook.md): a parsed JSON object in, a SignalRequest or every field error out.

Pure (no database, no settings), so the webhook view, the manual-order API and the tests share one set of rules.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from . import fields
from .errors import SignalRefused

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


class PayloadError(SignalRefused):
    """Every problem of a body: `errors` maps a field to its messages (DRF-style), `detail` is one line."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        if len(errors) == 1:
            first, *others = next(iter(errors.values()))
            detail = f"The signal is invalid: {first}" + (f" (and {len(others)} more)" if others else "")
        else:
            detail = f"The signal has {len(errors)} invalid fields: {', '.join(errors)}."
        super().__init__(detail, errors)


def _action(name: str, value: object) -> str:
    return fields.choice(name, value, {action: action for action in _ACTIONS})


def _side(name: str, value: object) -> Side:
    return fields.choice(name, value, _SIDES)


def _order_type(name: str, value: object) -> OrderType:
    return fields.choice(name, value, {order_type.upper(): order_type for order_type in _ORDER_TYPES})


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
        except fields.FieldInvalid as invalid:
            self.add(name, *invalid.messages)
            return None

    def read_leg(self, name: str, alias: str) -> tuple[str, Decimal | None]:
        """A TP or SL price under its name or its alias: the name the trader used, and the price."""
        if name in self.data and alias in self.data:
            self.add(alias, f"{alias} is another name for {name}: give one of them.")
            return name, None
        used = alias if alias in self.data else name
        return used, self.read(used, fields.price)


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

    accounts = reader.read("accounts", fields.accounts) or ()
    if (account := reader.read("account", fields.account)) is not None:
        accounts = (account,)
    if "account" in data and "accounts" in data:
        reader.add("account", "account and accounts cannot both be given: name one account, or several in accounts.")
    comment = reader.read("comment", fields.comment) or ""
    key = reader.read("id", fields.idempotency_key)
    symbol = reader.read("symbol", fields.symbol) if "symbol" in used else None
    ticket = reader.read("ticket", fields.ticket) if "ticket" in used else None
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
                f"{fields.shown(name)} is not a field this service reads, and it looks like it sizes or targets the "
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


def _open_fields(reader: _Reader, side: Side | None) -> dict[str, Any]:
    """Sizing, order type, price and stops of an opening order.

    Without a side (the action is unknown) each field is checked alone: what is required depends on the action.
    """
    data = reader.data
    volume = reader.read("volume", fields.volume)
    risk = reader.read("risk", fields.risk)
    order_type = reader.read("order_type", _order_type) or "market"
    price = reader.read("price", fields.price)
    tp_name, take_profit = reader.read_leg("take_profit", "tp")
    sl_name, stop_loss = reader.read_leg("stop_loss", "sl")
    tp_pips = reader.read("tp_pips", fields.pips)
    sl_pips = reader.read("sl_pips", fields.pips)

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
