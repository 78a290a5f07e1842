"""The files of the EA bridge, protocol version 1 (docs/ea-protocol.md): status.json and result
files read and checked field by field, command files written atomically. The MQL5 EA (ea/) and the
simulated EA of the tests (tests/fakes/ea_simulator.py) follow the same document, and
tests/ea/test_ea_source.py keeps the field names of the three and the document in step."""

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from .base import (
    AccountInfo,
    Deal,
    Filling,
    OrderRequest,
    OrderResult,
    OrderType,
    PendingOrder,
    Position,
    SymbolInfo,
    TerminalError,
    Tick,
    TradeAction,
)

PROTOCOL_VERSION = 1
STATUS_FILE = "status.json"
COMMAND_PREFIXES = {"webhook": "webhook_command_", "slave": "slave_command_", "check": "check_command_"}
COMMENT_LENGTH = 31  # MT5 cuts order comments to 31 characters
LINK_PREFIX = "COPY_"
INVALID, INVALID_FILL, INVALID_ORDER = 10013, 10030, 10035
INVALID_VERSION = -5

CommandKind = Literal["webhook", "slave"]
T = TypeVar("T")

_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "an array"}


class ProtocolError(ValueError):
    """A file of the bridge does not follow the protocol."""


@dataclass(frozen=True)
class EAStatus:
    """One status.json snapshot."""

    time_msc: int
    account: AccountInfo
    symbols: dict[str, SymbolInfo]
    ticks: dict[str, Tick]
    positions: list[Position]
    orders: list[PendingOrder]
    deals: list[Deal]
    connected: bool | None = None  # None: the EA does not report it
    last_error: str = ""
    # What the EA says of itself; None: an EA from before these fields.
    ea_name: str = ""
    ea_loaded: bool | None = None
    ea_running: bool | None = None


def command_link(order_id: str) -> str:
    """The comment that ties a slave's position to its master's order (docs/copy-trading.md)."""
    return f"{LINK_PREFIX}{order_id}"[:COMMENT_LENGTH]


def carries_link(comment: str, order_id: str) -> bool:
    """Whether a comment's first word is the link to `order_id`, whole or cut to fit beside
    a client id ("COPY_<order_id> mt5s1a2b", see docs/ea-protocol.md)."""
    word = comment.split(" ", 1)[0]
    return len(word) > len(LINK_PREFIX) and f"{LINK_PREFIX}{order_id}".startswith(word)


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write `<name>.tmp`, then rename it over `<name>`: a reader never sees half a file."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def load_json_object(text: str) -> dict[str, Any]:
    """Parse one protocol file; ProtocolError for anything but a JSON object of finite numbers."""

    def no_constants(name: str) -> float:
        raise ProtocolError(f"{name} is not a number JSON allows")

    try:
        data = json.loads(text, parse_constant=no_constants)
    except ProtocolError:
        raise
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, arrays nested beyond the stack
        raise ProtocolError(f"not JSON this host reads ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    return data


def field(data: dict[str, Any], name: str, kind: type[T], *, where: str = "", default: T | None = None) -> T:
    """The value of a field, checked against its protocol type; ProtocolError when missing or mistyped."""
    label = f"{where}.{name}" if where else name
    if name not in data:
        if default is None:
            raise ProtocolError(f"{label} is missing")
        return default
    value = data[name]
    # bool is an int subclass in Python, but true is not a ticket.
    if kind is float:
        number = _finite(value)
        valid, value = number is not None, value if number is None else number
    elif kind is int:
        valid = isinstance(value, int) and not isinstance(value, bool)
    else:
        valid = isinstance(value, kind)
    if not valid:
        raise ProtocolError(f"{label} must be {_TYPE_WORDS[kind]}, not {json.dumps(value)[:40]}")
    return value


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def _record(cls: type[T], data: object, where: str) -> T:
    """A base dataclass from a JSON object, every field checked; fields with defaults may be absent."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{where} is not an object")
    values = {}
    for spec in dataclasses.fields(cls):
        default = None if spec.default is dataclasses.MISSING else spec.default
        values[spec.name] = field(data, spec.name, spec.type, where=where, default=default)
    return cls(**values)


def parse_status(text: str) -> EAStatus:
    """A status.json snapshot; ProtocolError when it breaks the protocol (TerminalError for a version)."""
    data = load_json_object(text)
    version = field(data, "version", int)
    if version != PROTOCOL_VERSION:
        raise TerminalError(INVALID_VERSION, f"status.json speaks EA protocol {version}, this host {PROTOCOL_VERSION}")
    symbols, ticks = {}, {}
    for index, raw in enumerate(field(data, "symbols", list)):
        info = _record(SymbolInfo, raw, f"symbols[{index}]")
        symbols[info.name] = info
        ticks[info.name] = _record(Tick, {**raw, "symbol": info.name}, f"symbols[{index}]")
    return EAStatus(
        time_msc=field(data, "time_msc", int),
        account=_record(AccountInfo, data.get("account"), "account"),
        symbols=symbols,
        ticks=ticks,
        positions=[_record(Position, raw, f"positions[{i}]") for i, raw in enumerate(field(data, "positions", list))],
        orders=[_record(PendingOrder, raw, f"orders[{i}]") for i, raw in enumerate(field(data, "orders", list))],
        deals=[_record(Deal, raw, f"deals[{i}]") for i, raw in enumerate(field(data, "deals", list))],
        connected=field(data, "connected", bool) if "connected" in data else None,
        last_error=field(data, "last_error", str, default="")[:200],
        ea_name=field(data, "ea_name", str, default="")[:64],
        ea_loaded=field(data, "ea_loaded", bool) if "ea_loaded" in data else None,
        ea_running=field(data, "ea_running", bool) if "ea_running" in data else None,
    )


def parse_result(text: str, command_id: str) -> OrderResult:
    """The OrderResult in a result file; ProtocolError when it breaks the protocol or answers another command."""
    data = load_json_object(text)
    answered = field(data, "command_id", str)
    if answered != command_id:
        raise ProtocolError(f"result names command {answered[:64]!r}, not {command_id!r}")
    ticket = field(data, "ticket", int, default=0)
    return OrderResult(
        retcode=field(data, "retcode", int),
        deal=field(data, "deal", int, default=0),
        order=field(data, "order", int, default=ticket),
        volume=field(data, "volume", float, default=0.0),
        price=field(data, "price", float, default=0.0),
        bid=field(data, "bid", float, default=0.0),
        ask=field(data, "ask", float, default=0.0),
        comment=field(data, "message", str, default=""),
    )


_PENDING_COMMANDS = {
    OrderType.BUY_LIMIT: ("BUY", "limit"),
    OrderType.SELL_LIMIT: ("SELL", "limit"),
    OrderType.BUY_STOP: ("BUY", "stop"),
    OrderType.SELL_STOP: ("SELL", "stop"),
}


def _command_comment(comment: str, copy_order_id: str) -> str:
    """The request's comment; for a slave command one that begins with the link: the host's
    own ("COPY_<order_id> <client id>", what reconciliation looks for) or else the link alone."""
    comment = comment[:COMMENT_LENGTH]
    if copy_order_id and not carries_link(comment, copy_order_id):
        return command_link(copy_order_id)
    return comment


def command_fields(request: OrderRequest, *, copy_order_id: str) -> dict[str, Any] | OrderResult:
    """The trade fields of a command, or the retcode for a request the protocol cannot carry."""
    base = {
        "symbol": request.symbol,
        "volume": request.volume,
        "price": request.price,
        "stop_loss": request.sl,
        "take_profit": request.tp,
        "ticket": 0,
        "deviation": request.deviation,
        "magic": request.magic,
        "comment": _command_comment(request.comment, copy_order_id),
        "order_type": "market",
    }
    try:
        base["filling"] = Filling(request.type_filling).name
    except ValueError:
        return OrderResult(retcode=INVALID_FILL, comment=f"Unknown filling mode {request.type_filling}")
    match request.action:
        case TradeAction.DEAL if request.type in (OrderType.BUY, OrderType.SELL):
            if request.position:
                return {**base, "action": "CLOSE", "ticket": request.position}
            return {**base, "action": OrderType(request.type).name}
        case TradeAction.PENDING if request.type in _PENDING_COMMANDS:
            action, order_type = _PENDING_COMMANDS[request.type]
            return {**base, "action": action, "order_type": order_type}
        case TradeAction.DEAL | TradeAction.PENDING:
            return OrderResult(retcode=INVALID_ORDER, comment=f"Order type {request.type} does not fit the action")
        case TradeAction.SLTP:
            return {**base, "action": "MODIFY", "ticket": request.position, "volume": 0.0, "price": 0.0}
        case TradeAction.REMOVE:
            return {**base, "action": "CANCEL", "ticket": request.order, "volume": 0.0, "price": 0.0}
    return OrderResult(retcode=INVALID, comment=f"Trade action {request.action} is not supported by the EA bridge")
