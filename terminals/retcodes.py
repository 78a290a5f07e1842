"""MT5's trade server return codes and terminal errors, with their meaning in words."""

TRADE_RETCODES: dict[int, tuple[str, str]] = {
    10004: ("REQUOTE", "Requote"),
    10006: ("REJECT", "Request rejected"),
    10007: ("CANCEL", "Request canceled by trader"),
    10008: ("PLACED", "Order placed"),
    10009: ("DONE", "Request completed"),
    10010: ("DONE_PARTIAL", "Only part of the request was completed"),
    10011: ("ERROR", "Request processing error"),
    10012: ("TIMEOUT", "Request canceled by timeout"),
    10013: ("INVALID", "Invalid request"),
    10014: ("INVALID_VOLUME", "Invalid volume in the request"),
    10015: ("INVALID_PRICE", "Invalid price in the request"),
    10016: ("INVALID_STOPS", "Invalid stops in the request"),
    10017: ("TRADE_DISABLED", "Trade is disabled"),
    10018: ("MARKET_CLOSED", "Market is closed"),
    10019: ("NO_MONEY", "There is not enough money to complete the request"),
    10020: ("PRICE_CHANGED", "Prices changed"),
    10021: ("PRICE_OFF", "There are no quotes to process the request"),
    10022: ("INVALID_EXPIRATION", "Invalid order expiration date in the request"),
    10023: ("ORDER_CHANGED", "Order state changed"),
    10024: ("TOO_MANY_REQUESTS", "Too frequent requests"),
    10025: ("NO_CHANGES", "No changes in request"),
    10026: ("SERVER_DISABLES_AT", "Autotrading disabled by server"),
    10027: ("CLIENT_DISABLES_AT", "Autotrading disabled by client terminal"),
    10028: ("LOCKED", "Request locked for processing"),
    10029: ("FROZEN", "Order or position frozen"),
    10030: ("INVALID_FILL", "Invalid order filling type"),
    10031: ("CONNECTION", "No connection with the trade server"),
    10032: ("ONLY_REAL", "Operation is allowed only for live accounts"),
    10033: ("LIMIT_ORDERS", "The number of pending orders has reached the limit"),
    10034: ("LIMIT_VOLUME", "The volume of orders and positions for the symbol has reached the limit"),
    10035: ("INVALID_ORDER", "Incorrect or prohibited order type"),
    10036: ("POSITION_CLOSED", "Position with the specified identifier has already been closed"),
    10038: ("INVALID_CLOSE_VOLUME", "A close volume exceeds the current position volume"),
    10039: ("CLOSE_ORDER_EXIST", "A close order already exists for a specified position"),
    10040: ("LIMIT_POSITIONS", "The number of open positions has reached the limit"),
    10041: ("REJECT_CANCEL", "The pending order activation request is rejected, the order is canceled"),
    10042: ("LONG_ONLY", "Only long positions are allowed for the symbol"),
    10043: ("SHORT_ONLY", "Only short positions are allowed for the symbol"),
    10044: ("CLOSE_ONLY", "Only position closing is allowed for the symbol"),
    10045: ("FIFO_CLOSE", "Position closing is allowed only by FIFO rule"),
    10046: ("HEDGE_PROHIBITED", "Opposite positions on a single symbol are disabled"),
}

# last_error() codes of the MetaTrader5 module (RES_*).
TERMINAL_ERRORS: dict[int, tuple[str, str]] = {
    1: ("RES_S_OK", "Generic success"),
    -1: ("RES_E_FAIL", "Generic fail"),
    -2: ("RES_E_INVALID_PARAMS", "Invalid arguments or parameters"),
    -3: ("RES_E_NO_MEMORY", "No memory condition"),
    -4: ("RES_E_NOT_FOUND", "No history"),
    -5: ("RES_E_INVALID_VERSION", "Invalid version"),
    -6: ("RES_E_AUTH_FAILED", "Authorization failed"),
    -7: ("RES_E_UNSUPPORTED", "Unsupported method"),
    -8: ("RES_E_AUTO_TRADING_DISABLED", "Auto-trading disabled"),
    -10000: ("RES_E_INTERNAL_FAIL", "Internal IPC general error"),
    -10001: ("RES_E_INTERNAL_FAIL_SEND", "Internal IPC send failed"),
    -10002: ("RES_E_INTERNAL_FAIL_RECEIVE", "Internal IPC recv failed"),
    -10003: ("RES_E_INTERNAL_FAIL_INIT", "Internal IPC initialization fail"),
    -10004: ("RES_E_INTERNAL_FAIL_CONNECT", "Internal IPC no ipc"),
    -10005: ("RES_E_INTERNAL_FAIL_TIMEOUT", "Internal timeout"),
}

DONE = 10009
DONE_PARTIAL = 10010
PLACED = 10008
# Worth a bounded retry with a fresh price.
RETRY_WITH_NEW_PRICE = frozenset({10004, 10020, 10021})
# The order may or may not exist on the server: check the terminal before resending.
AMBIGUOUS = frozenset({10008, 10012, 10031, *range(-10005, -9999)})


def retcode_text(code: int | None) -> str:
    """MT5's meaning of a trade retcode or terminal error in words."""
    if code is None:
        return ""
    name, words = TRADE_RETCODES.get(code) or TERMINAL_ERRORS.get(code) or ("UNKNOWN", "Unknown code")
    return f"{words} ({name} {code})"
