"""A master's trade event: what POST /api/copy/trade, the host-side watcher and a cascading
slave tell copy trading, and how a request body becomes one (docs/copy-trading.md)."""

from dataclasses import dataclass
from decimal import Decimal

from mt5saas.numbers import NumberError, NumberProblem, decimal_parse
from terminals.errors import SymbolError
from terminals.selectors import symbol_clean

from .errors import CopyRefused
from .models import CopyEvent

MAX_ORDER_ID = 64
LOT = Decimal("0.0001")  # Order.volume's precision: the pipeline rounds to the symbol's step
MAX_LOTS = Decimal("1000000")
PRICE_PLACES = Decimal("0.00000001")  # the price columns' decimal places (LOT: the lots')
MAX_PRICE = Decimal("1e11")  # below the price columns' 12 integer digits
# What the copy API answers for each number refused (NumberProblem.TOO_MANY_DIGITS cannot
# happen: no digit limit is asked for; the places and the maximum bound the digits).
NUMBER_REFUSALS = {
    NumberProblem.WRONG_TYPE: "{name} must be a number.",
    NumberProblem.NOT_NUMERIC: "{name} must be a number, not {shown}.",
    NumberProblem.NOT_FINITE: "{name} must be a finite number of 0 or more.",
    NumberProblem.BELOW_MINIMUM: "{name} must be a finite number of 0 or more.",
    NumberProblem.FINER_THAN_PLACES: "{name} must be 0 or at least {places}.",
    NumberProblem.ABOVE_MAXIMUM: "{name} must be at most {maximum}.",
}


@dataclass(frozen=True)
class MasterEvent:
    kind: str
    order_id: str
    symbol: str = ""
    side: str = ""
    volume: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None
    sequence: str = ""  # the master's deal ticket, when the source knows it


def _number(data: dict, name: str, errors: dict, *, places: Decimal, maximum: Decimal) -> Decimal | None:
    """A number of 0 or more from the body, rounded to the column's places; None if absent.
    Any text Decimal() reads is a number here, as the EAs have always been answered."""
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        return decimal_parse(value, maximum=maximum, places=places, plain_text=False)
    except NumberError as error:
        bounds = {"places": f"{places.normalize():f}", "maximum": f"{maximum.normalize():f}"}
        errors[name] = [NUMBER_REFUSALS[error.problem].format(name=name, shown=repr(str(value)[:20]), **bounds)]
        return None


def _order_id(data: dict, errors: dict) -> str:
    order_id = data.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id.strip() or len(order_id) > MAX_ORDER_ID:
        errors["order_id"] = [f"order_id must be text of 1 to {MAX_ORDER_ID} characters."]
        return ""
    if not order_id.isprintable():
        errors["order_id"] = ["order_id contains control characters."]
        return ""
    return order_id.strip()


def _opening(data: dict, errors: dict, volume: Decimal | None) -> tuple[str, str]:
    """A deal_add's symbol (as the master spelled it: shown and sent so) and side."""
    symbol = ""
    try:
        symbol = symbol_clean(data.get("symbol"))
    except SymbolError as error:
        errors["symbol"] = [str(error)]
    side = str(data.get("type", "")).strip().lower()
    if side not in ("buy", "sell"):
        errors["type"] = ["type must be BUY or SELL."]
    if volume is None and "volume" not in errors:
        errors["volume"] = ["volume (lots) is required for deal_add."]
    return symbol, side


def event_parse(data: dict) -> MasterEvent:
    """A master event from a request body (docs/copy-trading.md); CopyRefused naming every field in error otherwise."""
    errors: dict[str, list[str]] = {}
    kind = str(data.get("event", "")).strip().lower()
    if kind not in CopyEvent.Kind.values:
        errors["event"] = [f"event must be one of {', '.join(CopyEvent.Kind.values)}."]
    order_id = _order_id(data, errors)
    symbol, side = "", ""
    volume = _number(data, "volume", errors, places=LOT, maximum=MAX_LOTS)
    if volume == 0:
        errors["volume"] = ["volume must be more than 0."]
    sl = _number(data, "sl", errors, places=PRICE_PLACES, maximum=MAX_PRICE)
    tp = _number(data, "tp", errors, places=PRICE_PLACES, maximum=MAX_PRICE)
    if kind == CopyEvent.Kind.DEAL_ADD:
        symbol, side = _opening(data, errors, volume)
    sequence = data.get("deal", data.get("sequence", ""))
    sequence = str(sequence)[:40] if isinstance(sequence, int | str) and not isinstance(sequence, bool) else ""
    if errors:
        raise CopyRefused("The event is not valid.", errors=errors)
    return MasterEvent(kind, order_id, symbol, side, volume, sl or None, tp or None, sequence)
