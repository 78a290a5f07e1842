"""A fake ``MetaTrader5`` module for Linux tests. TEST-ONLY: never installed in production.

The real module is a Windows wheel around a binary (MetaTrader5 5.0.6231 was read for
this): the constants below are copied with their values, the functions have the real
names and signatures, and results are named tuples with the real field names in the real
order (read from the binary's string table and MetaQuotes' documented examples). Like the
real module it never raises for a terminal problem: a call that fails returns None (False
for initialize, login and symbol_select) and sets last_error() to a RES_* code with the
real module's words; trade refusals come back as an OrderSendResult with a retcode.

Behaviour comes from the simulated paper broker (terminals.paper), so Django
must be set up and its database reachable. State is per process, as in the real module:
one attached terminal at a time, named by the path given to initialize(); a terminal keeps
its logged-in account across shutdown() and initialize(), as a running terminal64.exe does.
Fields the paper broker does not model get realistic defaults (a position's swap 0.0…); deals
carry the paper broker's reason, commission, swap and fee, money movements included.
Functions it cannot simulate (bars, ticks history, order book, margin calculation) return
None with RES_E_UNSUPPORTED; the pure-Python Buy/Sell/Close helpers are not reproduced.

Test-only hooks, absent from the real module (all start with an underscore):
  _reset(clock=None)    forget terminals, counters and pending failures; clock() -> epoch ms
  _fail_next(code, message=None, *, function=None, executed=False)
                        make the next call (of `function`, or of any function) fail with
                        `code`, e.g. RES_E_INTERNAL_FAIL_TIMEOUT; executed=True lets the
                        call reach the terminal first, so an order is placed and its answer lost
  _calls                collections.Counter of calls per public function
"""

import functools
import itertools
import ntpath
import re
from collections import Counter, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terminals.drivers.base import OrderRequest, OrderType, TerminalError
from terminals.paper.driver import SimulatedDriver
from terminals.paper.market import now_msc
from terminals.retcodes import TRADE_RETCODES

__version__ = "5.0.6231"
__author__ = "MetaQuotes Ltd."

# timeframes
TIMEFRAME_M1 = 1
TIMEFRAME_M2 = 2
TIMEFRAME_M3 = 3
TIMEFRAME_M4 = 4
TIMEFRAME_M5 = 5
TIMEFRAME_M6 = 6
TIMEFRAME_M10 = 10
TIMEFRAME_M12 = 12
TIMEFRAME_M15 = 15
TIMEFRAME_M20 = 20
TIMEFRAME_M30 = 30
TIMEFRAME_H1 = 1 | 0x4000
TIMEFRAME_H2 = 2 | 0x4000
TIMEFRAME_H4 = 4 | 0x4000
TIMEFRAME_H3 = 3 | 0x4000
TIMEFRAME_H6 = 6 | 0x4000
TIMEFRAME_H8 = 8 | 0x4000
TIMEFRAME_H12 = 12 | 0x4000
TIMEFRAME_D1 = 24 | 0x4000
TIMEFRAME_W1 = 1 | 0x8000
TIMEFRAME_MN1 = 1 | 0xC000
# tick copy flags
COPY_TICKS_ALL = -1
COPY_TICKS_INFO = 1
COPY_TICKS_TRADE = 2
# tick flags
TICK_FLAG_BID = 0x02
TICK_FLAG_ASK = 0x04
TICK_FLAG_LAST = 0x08
TICK_FLAG_VOLUME = 0x10
TICK_FLAG_BUY = 0x20
TICK_FLAG_SELL = 0x40
# position type, ENUM_POSITION_TYPE
POSITION_TYPE_BUY = 0
POSITION_TYPE_SELL = 1
# position reason, ENUM_POSITION_REASON
POSITION_REASON_CLIENT = 0
POSITION_REASON_MOBILE = 1
POSITION_REASON_WEB = 2
POSITION_REASON_EXPERT = 3
# order types, ENUM_ORDER_TYPE
ORDER_TYPE_BUY = 0
ORDER_TYPE_SELL = 1
ORDER_TYPE_BUY_LIMIT = 2
ORDER_TYPE_SELL_LIMIT = 3
ORDER_TYPE_BUY_STOP = 4
ORDER_TYPE_SELL_STOP = 5
ORDER_TYPE_BUY_STOP_LIMIT = 6
ORDER_TYPE_SELL_STOP_LIMIT = 7
ORDER_TYPE_CLOSE_BY = 8
# order state, ENUM_ORDER_STATE
ORDER_STATE_STARTED = 0
ORDER_STATE_PLACED = 1
ORDER_STATE_CANCELED = 2
ORDER_STATE_PARTIAL = 3
ORDER_STATE_FILLED = 4
ORDER_STATE_REJECTED = 5
ORDER_STATE_EXPIRED = 6
ORDER_STATE_REQUEST_ADD = 7
ORDER_STATE_REQUEST_MODIFY = 8
ORDER_STATE_REQUEST_CANCEL = 9
# ENUM_ORDER_TYPE_FILLING
ORDER_FILLING_FOK = 0
ORDER_FILLING_IOC = 1
ORDER_FILLING_RETURN = 2
ORDER_FILLING_BOC = 3
# ENUM_ORDER_TYPE_TIME
ORDER_TIME_GTC = 0
ORDER_TIME_DAY = 1
ORDER_TIME_SPECIFIED = 2
ORDER_TIME_SPECIFIED_DAY = 3
# ENUM_ORDER_REASON
ORDER_REASON_CLIENT = 0
ORDER_REASON_MOBILE = 1
ORDER_REASON_WEB = 2
ORDER_REASON_EXPERT = 3
ORDER_REASON_SL = 4
ORDER_REASON_TP = 5
ORDER_REASON_SO = 6
# deal types, ENUM_DEAL_TYPE
DEAL_TYPE_BUY = 0
DEAL_TYPE_SELL = 1
DEAL_TYPE_BALANCE = 2
DEAL_TYPE_CREDIT = 3
DEAL_TYPE_CHARGE = 4
DEAL_TYPE_CORRECTION = 5
DEAL_TYPE_BONUS = 6
DEAL_TYPE_COMMISSION = 7
DEAL_TYPE_COMMISSION_DAILY = 8
DEAL_TYPE_COMMISSION_MONTHLY = 9
DEAL_TYPE_COMMISSION_AGENT_DAILY = 10
DEAL_TYPE_COMMISSION_AGENT_MONTHLY = 11
DEAL_TYPE_INTEREST = 12
DEAL_TYPE_BUY_CANCELED = 13
DEAL_TYPE_SELL_CANCELED = 14
DEAL_DIVIDEND = 15
DEAL_DIVIDEND_FRANKED = 16
DEAL_TAX = 17
# ENUM_DEAL_ENTRY
DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT = 1
DEAL_ENTRY_INOUT = 2
DEAL_ENTRY_OUT_BY = 3
# ENUM_DEAL_REASON
DEAL_REASON_CLIENT = 0
DEAL_REASON_MOBILE = 1
DEAL_REASON_WEB = 2
DEAL_REASON_EXPERT = 3
DEAL_REASON_SL = 4
DEAL_REASON_TP = 5
DEAL_REASON_SO = 6
DEAL_REASON_ROLLOVER = 7
DEAL_REASON_VMARGIN = 8
DEAL_REASON_SPLIT = 9
# ENUM_TRADE_REQUEST_ACTIONS, Trade Operation Types
TRADE_ACTION_DEAL = 1
TRADE_ACTION_PENDING = 5
TRADE_ACTION_SLTP = 6
TRADE_ACTION_MODIFY = 7
TRADE_ACTION_REMOVE = 8
TRADE_ACTION_CLOSE_BY = 10
# ENUM_SYMBOL_CHART_MODE
SYMBOL_CHART_MODE_BID = 0
SYMBOL_CHART_MODE_LAST = 1
# ENUM_SYMBOL_CALC_MODE
SYMBOL_CALC_MODE_FOREX = 0
SYMBOL_CALC_MODE_FUTURES = 1
SYMBOL_CALC_MODE_CFD = 2
SYMBOL_CALC_MODE_CFDINDEX = 3
SYMBOL_CALC_MODE_CFDLEVERAGE = 4
SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE = 5
SYMBOL_CALC_MODE_EXCH_STOCKS = 32
SYMBOL_CALC_MODE_EXCH_FUTURES = 33
SYMBOL_CALC_MODE_EXCH_OPTIONS = 34
SYMBOL_CALC_MODE_EXCH_OPTIONS_MARGIN = 36
SYMBOL_CALC_MODE_EXCH_BONDS = 37
SYMBOL_CALC_MODE_EXCH_STOCKS_MOEX = 38
SYMBOL_CALC_MODE_EXCH_BONDS_MOEX = 39
SYMBOL_CALC_MODE_SERV_COLLATERAL = 64
# ENUM_SYMBOL_TRADE_MODE
SYMBOL_TRADE_MODE_DISABLED = 0
SYMBOL_TRADE_MODE_LONGONLY = 1
SYMBOL_TRADE_MODE_SHORTONLY = 2
SYMBOL_TRADE_MODE_CLOSEONLY = 3
SYMBOL_TRADE_MODE_FULL = 4
# ENUM_SYMBOL_TRADE_EXECUTION
SYMBOL_TRADE_EXECUTION_REQUEST = 0
SYMBOL_TRADE_EXECUTION_INSTANT = 1
SYMBOL_TRADE_EXECUTION_MARKET = 2
SYMBOL_TRADE_EXECUTION_EXCHANGE = 3
# ENUM_SYMBOL_SWAP_MODE
SYMBOL_SWAP_MODE_DISABLED = 0
SYMBOL_SWAP_MODE_POINTS = 1
SYMBOL_SWAP_MODE_CURRENCY_SYMBOL = 2
SYMBOL_SWAP_MODE_CURRENCY_MARGIN = 3
SYMBOL_SWAP_MODE_CURRENCY_DEPOSIT = 4
SYMBOL_SWAP_MODE_INTEREST_CURRENT = 5
SYMBOL_SWAP_MODE_INTEREST_OPEN = 6
SYMBOL_SWAP_MODE_REOPEN_CURRENT = 7
SYMBOL_SWAP_MODE_REOPEN_BID = 8
# ENUM_DAY_OF_WEEK
DAY_OF_WEEK_SUNDAY = 0
DAY_OF_WEEK_MONDAY = 1
DAY_OF_WEEK_TUESDAY = 2
DAY_OF_WEEK_WEDNESDAY = 3
DAY_OF_WEEK_THURSDAY = 4
DAY_OF_WEEK_FRIDAY = 5
DAY_OF_WEEK_SATURDAY = 6
# ENUM_SYMBOL_ORDER_GTC_MODE
SYMBOL_ORDERS_GTC = 0
SYMBOL_ORDERS_DAILY = 1
SYMBOL_ORDERS_DAILY_NO_STOPS = 2
# ENUM_SYMBOL_OPTION_RIGHT
SYMBOL_OPTION_RIGHT_CALL = 0
SYMBOL_OPTION_RIGHT_PUT = 1
# ENUM_SYMBOL_OPTION_MODE
SYMBOL_OPTION_MODE_EUROPEAN = 0
SYMBOL_OPTION_MODE_AMERICAN = 1
# ENUM_ACCOUNT_TRADE_MODE
ACCOUNT_TRADE_MODE_DEMO = 0
ACCOUNT_TRADE_MODE_CONTEST = 1
ACCOUNT_TRADE_MODE_REAL = 2
# ENUM_ACCOUNT_STOPOUT_MODE
ACCOUNT_STOPOUT_MODE_PERCENT = 0
ACCOUNT_STOPOUT_MODE_MONEY = 1
# ENUM_ACCOUNT_MARGIN_MODE
ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0
ACCOUNT_MARGIN_MODE_EXCHANGE = 1
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2
# ENUM_BOOK_TYPE
BOOK_TYPE_SELL = 1
BOOK_TYPE_BUY = 2
BOOK_TYPE_SELL_MARKET = 3
BOOK_TYPE_BUY_MARKET = 4
# order send/check return codes
TRADE_RETCODE_REQUOTE = 10004
TRADE_RETCODE_REJECT = 10006
TRADE_RETCODE_CANCEL = 10007
TRADE_RETCODE_PLACED = 10008
TRADE_RETCODE_DONE = 10009
TRADE_RETCODE_DONE_PARTIAL = 10010
TRADE_RETCODE_ERROR = 10011
TRADE_RETCODE_TIMEOUT = 10012
TRADE_RETCODE_INVALID = 10013
TRADE_RETCODE_INVALID_VOLUME = 10014
TRADE_RETCODE_INVALID_PRICE = 10015
TRADE_RETCODE_INVALID_STOPS = 10016
TRADE_RETCODE_TRADE_DISABLED = 10017
TRADE_RETCODE_MARKET_CLOSED = 10018
TRADE_RETCODE_NO_MONEY = 10019
TRADE_RETCODE_PRICE_CHANGED = 10020
TRADE_RETCODE_PRICE_OFF = 10021
TRADE_RETCODE_INVALID_EXPIRATION = 10022
TRADE_RETCODE_ORDER_CHANGED = 10023
TRADE_RETCODE_TOO_MANY_REQUESTS = 10024
TRADE_RETCODE_NO_CHANGES = 10025
TRADE_RETCODE_SERVER_DISABLES_AT = 10026
TRADE_RETCODE_CLIENT_DISABLES_AT = 10027
TRADE_RETCODE_LOCKED = 10028
TRADE_RETCODE_FROZEN = 10029
TRADE_RETCODE_INVALID_FILL = 10030
TRADE_RETCODE_CONNECTION = 10031
TRADE_RETCODE_ONLY_REAL = 10032
TRADE_RETCODE_LIMIT_ORDERS = 10033
TRADE_RETCODE_LIMIT_VOLUME = 10034
TRADE_RETCODE_INVALID_ORDER = 10035
TRADE_RETCODE_POSITION_CLOSED = 10036
TRADE_RETCODE_INVALID_CLOSE_VOLUME = 10038
TRADE_RETCODE_CLOSE_ORDER_EXIST = 10039
TRADE_RETCODE_LIMIT_POSITIONS = 10040
TRADE_RETCODE_REJECT_CANCEL = 10041
TRADE_RETCODE_LONG_ONLY = 10042
TRADE_RETCODE_SHORT_ONLY = 10043
TRADE_RETCODE_CLOSE_ONLY = 10044
TRADE_RETCODE_FIFO_CLOSE = 10045
# function error codes, last_error()
RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NO_MEMORY = -3
RES_E_NOT_FOUND = -4
RES_E_INVALID_VERSION = -5
RES_E_AUTH_FAILED = -6
RES_E_UNSUPPORTED = -7
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL = -10000
RES_E_INTERNAL_FAIL_SEND = -10001
RES_E_INTERNAL_FAIL_RECEIVE = -10002
RES_E_INTERNAL_FAIL_INIT = -10003
RES_E_INTERNAL_FAIL_CONNECT = -10004
RES_E_INTERNAL_FAIL_TIMEOUT = -10005

# --- result shapes: real names, real field order, realistic defaults ----------------


def _struct(typename: str, /, **fields: Any) -> type:
    # Positional-only: AccountInfo and SymbolInfo have a field called "name".
    return namedtuple(typename, fields, defaults=fields.values())


TradeRequest = _struct(
    "TradeRequest",
    action=0,
    magic=0,
    order=0,
    symbol="",
    volume=0.0,
    price=0.0,
    stoplimit=0.0,
    sl=0.0,
    tp=0.0,
    deviation=0,
    type=0,
    type_filling=0,
    type_time=0,
    expiration=0,
    comment="",
    position=0,
    position_by=0,
)
OrderSendResult = _struct(
    "OrderSendResult",
    retcode=0,
    deal=0,
    order=0,
    volume=0.0,
    price=0.0,
    bid=0.0,
    ask=0.0,
    comment="",
    request_id=0,
    retcode_external=0,
    request=None,
)
OrderCheckResult = _struct(
    "OrderCheckResult",
    retcode=0,
    balance=0.0,
    equity=0.0,
    profit=0.0,
    margin=0.0,
    margin_free=0.0,
    margin_level=0.0,
    comment="",
    request=None,
)
TradePosition = _struct(
    "TradePosition",
    ticket=0,
    time=0,
    time_msc=0,
    time_update=0,
    time_update_msc=0,
    type=0,
    magic=0,
    identifier=0,
    reason=POSITION_REASON_EXPERT,
    volume=0.0,
    price_open=0.0,
    sl=0.0,
    tp=0.0,
    price_current=0.0,
    swap=0.0,
    profit=0.0,
    symbol="",
    comment="",
    external_id="",
)
TradeOrder = _struct(
    "TradeOrder",
    ticket=0,
    time_setup=0,
    time_setup_msc=0,
    time_done=0,
    time_done_msc=0,
    time_expiration=0,
    type=0,
    type_time=ORDER_TIME_GTC,
    type_filling=ORDER_FILLING_RETURN,
    state=ORDER_STATE_PLACED,
    magic=0,
    position_id=0,
    position_by_id=0,
    reason=ORDER_REASON_EXPERT,
    volume_initial=0.0,
    volume_current=0.0,
    price_open=0.0,
    sl=0.0,
    tp=0.0,
    price_current=0.0,
    price_stoplimit=0.0,
    symbol="",
    comment="",
    external_id="",
)
TradeDeal = _struct(
    "TradeDeal",
    ticket=0,
    order=0,
    time=0,
    time_msc=0,
    type=0,
    entry=0,
    magic=0,
    position_id=0,
    reason=DEAL_REASON_EXPERT,
    volume=0.0,
    price=0.0,
    commission=0.0,
    swap=0.0,
    profit=0.0,
    fee=0.0,
    symbol="",
    comment="",
    external_id="",
)
Tick = _struct("Tick", time=0, bid=0.0, ask=0.0, last=0.0, volume=0, time_msc=0, flags=0, volume_real=0.0)
AccountInfo = _struct(
    "AccountInfo",
    login=0,
    trade_mode=ACCOUNT_TRADE_MODE_DEMO,
    leverage=100,
    limit_orders=200,
    margin_so_mode=ACCOUNT_STOPOUT_MODE_PERCENT,
    trade_allowed=True,
    trade_expert=True,
    margin_mode=ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
    currency_digits=2,
    fifo_close=False,
    balance=0.0,
    credit=0.0,
    profit=0.0,
    equity=0.0,
    margin=0.0,
    margin_free=0.0,
    margin_level=0.0,
    margin_so_call=50.0,
    margin_so_so=30.0,
    margin_initial=0.0,
    margin_maintenance=0.0,
    assets=0.0,
    liabilities=0.0,
    commission_blocked=0.0,
    name="",
    server="",
    currency="USD",
    company="",
)
TerminalInfo = _struct(
    "TerminalInfo",
    community_account=False,
    community_connection=False,
    connected=False,
    dlls_allowed=False,
    trade_allowed=True,
    tradeapi_disabled=False,
    email_enabled=False,
    ftp_enabled=False,
    notifications_enabled=False,
    mqid=False,
    build=0,
    maxbars=100000,
    codepage=0,
    ping_last=0,
    community_balance=0.0,
    retransmission=0.0,
    company="",
    name="MetaTrader 5",
    language="English",
    path="",
    data_path="",
    commondata_path="",
)
SymbolInfo = _struct(
    "SymbolInfo",
    custom=False,
    chart_mode=SYMBOL_CHART_MODE_BID,
    select=True,
    visible=True,
    session_deals=0,
    session_buy_orders=0,
    session_sell_orders=0,
    volume=0,
    volumehigh=0,
    volumelow=0,
    time=0,
    digits=5,
    spread=0,
    spread_float=True,
    ticks_bookdepth=10,
    trade_calc_mode=SYMBOL_CALC_MODE_CFD,
    trade_mode=SYMBOL_TRADE_MODE_FULL,
    start_time=0,
    expiration_time=0,
    trade_stops_level=0,
    trade_freeze_level=0,
    trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
    swap_mode=SYMBOL_SWAP_MODE_POINTS,
    swap_rollover3days=DAY_OF_WEEK_WEDNESDAY,
    margin_hedged_use_leg=False,
    expiration_mode=15,
    filling_mode=0,
    order_mode=127,
    order_gtc_mode=SYMBOL_ORDERS_GTC,
    option_mode=SYMBOL_OPTION_MODE_EUROPEAN,
    option_right=SYMBOL_OPTION_RIGHT_CALL,
    bid=0.0,
    bidhigh=0.0,
    bidlow=0.0,
    ask=0.0,
    askhigh=0.0,
    asklow=0.0,
    last=0.0,
    lasthigh=0.0,
    lastlow=0.0,
    volume_real=0.0,
    volumehigh_real=0.0,
    volumelow_real=0.0,
    option_strike=0.0,
    point=0.0,
    trade_tick_value=0.0,
    trade_tick_value_profit=0.0,
    trade_tick_value_loss=0.0,
    trade_tick_size=0.0,
    trade_contract_size=0.0,
    trade_accrued_interest=0.0,
    trade_face_value=0.0,
    trade_liquidity_rate=0.0,
    volume_min=0.0,
    volume_max=0.0,
    volume_step=0.0,
    volume_limit=0.0,
    swap_long=0.0,
    swap_short=0.0,
    margin_initial=0.0,
    margin_maintenance=0.0,
    session_volume=0.0,
    session_turnover=0.0,
    session_interest=0.0,
    session_buy_orders_volume=0.0,
    session_sell_orders_volume=0.0,
    session_open=0.0,
    session_close=0.0,
    session_aw=0.0,
    session_price_settlement=0.0,
    session_price_limit_min=0.0,
    session_price_limit_max=0.0,
    margin_hedged=0.0,
    price_change=0.0,
    price_volatility=0.0,
    price_theoretical=0.0,
    price_greeks_delta=0.0,
    price_greeks_theta=0.0,
    price_greeks_gamma=0.0,
    price_greeks_vega=0.0,
    price_greeks_rho=0.0,
    price_greeks_omega=0.0,
    price_sensitivity=0.0,
    basis="",
    category="",
    currency_base="",
    currency_profit="USD",
    currency_margin="",
    bank="",
    description="",
    exchange="",
    formula="",
    isin="",
    name="",
    page="",
    path="",
)

# last_error() words, as the binary spells them.
_MESSAGES = {
    RES_S_OK: "Success",
    RES_E_FAIL: "Terminal: Call failed",
    RES_E_INVALID_PARAMS: "Terminal: Invalid params",
    RES_E_NO_MEMORY: "Terminal: Out of memory",
    RES_E_NOT_FOUND: "Terminal: Not found",
    RES_E_INVALID_VERSION: (
        "Terminal: Incompatible versions, please install the latest version of Terminal and Python module"
    ),
    RES_E_AUTH_FAILED: "Terminal: Authorization failed",
    RES_E_UNSUPPORTED: "Terminal: Unsupported function",
    RES_E_AUTO_TRADING_DISABLED: "Auto-Trading using Python API disabled in Terminal",
    RES_E_INTERNAL_FAIL: "IPC call failed",
    RES_E_INTERNAL_FAIL_SEND: "IPC send failed",
    RES_E_INTERNAL_FAIL_RECEIVE: "IPC recv failed",
    RES_E_INTERNAL_FAIL_INIT: "IPC initialize failed",
    RES_E_INTERNAL_FAIL_CONNECT: "No IPC connection",
    RES_E_INTERNAL_FAIL_TIMEOUT: "IPC timeout",
}
_BUILD, _BUILD_DATE = 5120, "24 Jan 2025"
_DEFAULT_DIR = "C:\\Program Files\\MetaTrader 5"
_DATA_DIR = "C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal"
_COMMON_DIR = f"{_DATA_DIR}\\Common"
_COMMENT_MAX = 31
_UNTIL_THE_END = datetime(3000, 1, 1, tzinfo=UTC)


# --- per-process state ---------------------------------------------------------------


@dataclass
class _Terminal:
    path: str  # the directory of terminal64.exe, as terminal_info().path reports it
    portable: bool = False
    broker: SimulatedDriver | None = None  # the logged-in account
    # The terminal's account database: a later login or initialize may omit password and server.
    saved: dict[int, tuple[str, str]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # removed from Market Watch


@dataclass
class _Failure:
    code: int
    message: str
    function: str | None
    executed: bool


@dataclass
class _State:
    clock: Callable[[], int] = now_msc
    terminals: dict[str, _Terminal] = field(default_factory=dict)
    attached: _Terminal | None = None
    error: tuple[int, str] = (RES_S_OK, _MESSAGES[RES_S_OK])
    failures: list[_Failure] = field(default_factory=list)
    request_ids: itertools.count = field(default_factory=lambda: itertools.count(1))


_state = _State()
_calls: Counter[str] = Counter()


class _Refused(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code, self.message = code, message or _MESSAGES.get(code, "Unknown error")


def _reset(clock: Callable[[], int] | None = None) -> None:
    """TEST-ONLY: a fresh process's view; clock() is the paper broker's time in epoch ms."""
    global _state
    _state = _State(clock=clock or now_msc)
    _calls.clear()


def _fail_next(code: int, message: str | None = None, *, function: str | None = None, executed: bool = False) -> None:
    """TEST-ONLY: the next call of `function` (any function when None) fails with `code`."""
    _state.failures.append(_Failure(code, message or _MESSAGES.get(code, "Unknown error"), function, executed))


def _take_failure(name: str) -> _Failure | None:
    for failure in _state.failures:
        if failure.function in (None, name):
            _state.failures.remove(failure)
            return failure
    return None


def _api(failed: bool | None) -> Callable[[Callable], Callable]:
    """A public function: counted, open to injected failures, and turning refusals into
    `failed` plus last_error(), as the real module does instead of raising."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            _calls[function.__name__] += 1
            failure = _take_failure(function.__name__)
            try:
                if failure and not failure.executed:
                    raise _Refused(failure.code, failure.message)
                _state.error = (RES_S_OK, _MESSAGES[RES_S_OK])
                result = function(*args, **kwargs)
                if failure:  # it reached the terminal; the answer was lost on the way back
                    raise _Refused(failure.code, failure.message)
                return result
            except _Refused as refused:
                _state.error = (refused.code, refused.message)
            except TerminalError as error:  # the paper broker's words become the terminal's
                _state.error = (error.code, _MESSAGES.get(error.code, error.message))
            return failed

        return call

    return decorate


def _require(condition: bool, argument: str) -> None:
    if not condition:
        raise _Refused(RES_E_INVALID_PARAMS, f'Invalid "{argument}" argument')


def _terminal() -> _Terminal:
    if _state.attached is None:
        raise _Refused(RES_E_INTERNAL_FAIL_CONNECT)
    return _state.attached


def _broker() -> SimulatedDriver:
    broker = _terminal().broker
    if broker is None:  # attached, but no account logged in
        raise _Refused(RES_E_FAIL)
    return broker


def _in_group(name: str, group: str | None) -> bool:
    """MT5's group filter: comma-separated masks with '*', a leading '!' excludes."""
    if group is None:
        return True
    selected = False
    for mask in (part.strip() for part in group.split(",")):
        exclude = mask.startswith("!")
        pattern = re.escape(mask.removeprefix("!")).replace(r"\*", ".*")
        if re.fullmatch(pattern, name, flags=re.IGNORECASE):
            selected = not exclude
    return selected


def _seconds(msc: int) -> int:
    return msc // 1000


def _moment(value: datetime | float, argument: str) -> datetime:
    _require(isinstance(value, datetime | int | float), argument)
    return value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)


# --- connection ------------------------------------------------------------------------


def _login(terminal: _Terminal, login: int, password: str | None, server: str | None) -> bool:
    saved_password, saved_server = terminal.saved.get(login, (None, None))
    password, server = password or saved_password, server or saved_server
    # A terminal that tries another account is logged out of the previous one, even if it fails.
    terminal.broker = None
    if password is None or server is None:
        raise _Refused(RES_E_AUTH_FAILED)
    broker = SimulatedDriver(clock=_state.clock)
    broker.connect(login=login, password=password, server=server)
    terminal.broker, terminal.saved[login] = broker, (password, server)
    return True


@_api(failed=False)
def initialize(
    path: str | None = None,
    *,
    login: int | None = None,
    password: str | None = None,
    server: str | None = None,
    timeout: int | None = None,
    portable: bool = False,
) -> bool:
    _require(path is None or isinstance(path, str), "path")
    _require(login is None or isinstance(login, int), "login")
    _require(password is None or isinstance(password, str), "password")
    _require(server is None or isinstance(server, str), "server")
    _require(timeout is None or isinstance(timeout, int), "timeout")
    key = ntpath.normcase(path or "")
    terminal = _state.terminals.get(key)
    if terminal is None:
        directory = ntpath.dirname(path) if path else _DEFAULT_DIR
        terminal = _state.terminals[key] = _Terminal(path=directory, portable=bool(portable))
    _state.attached = terminal
    if login is not None:
        return _login(terminal, login, password, server)
    return True


@_api(failed=False)
def login(login: int, *, password: str | None = None, server: str | None = None, timeout: int | None = None) -> bool:
    _require(isinstance(login, int), "login")
    _require(password is None or isinstance(password, str), "password")
    _require(server is None or isinstance(server, str), "server")
    _require(timeout is None or isinstance(timeout, int), "timeout")
    return _login(_terminal(), login, password, server)


@_api(failed=None)
def shutdown() -> None:
    # The terminal keeps running and stays logged in; only this process lets go of it.
    _state.attached = None


def last_error() -> tuple[int, str]:
    return _state.error


@_api(failed=None)
def version() -> tuple[int, int, str]:
    _terminal()
    return (500, _BUILD, _BUILD_DATE)


@_api(failed=None)
def terminal_info() -> TerminalInfo:
    terminal = _terminal()
    account = terminal.broker.account_info() if terminal.broker else None
    return TerminalInfo(
        connected=account is not None,
        build=_BUILD,
        ping_last=35_000,
        company=_company(account.server) if account else "",
        path=terminal.path,
        # Portable mode keeps the data beside terminal64.exe, not under the user's AppData.
        data_path=terminal.path if terminal.portable else f"{_DATA_DIR}\\D0E8209F77C8CF37AD8BF550E51FF075",
        commondata_path=_COMMON_DIR,
    )


def _company(server: str) -> str:
    return f"{server.split('-')[0]} Ltd."


@_api(failed=None)
def account_info() -> AccountInfo:
    info = _broker().account_info()
    return AccountInfo(
        login=info.login,
        trade_mode=ACCOUNT_TRADE_MODE_DEMO if "demo" in info.server.lower() else ACCOUNT_TRADE_MODE_REAL,
        leverage=info.leverage,
        trade_allowed=info.trade_allowed,
        margin_mode=int(info.margin_mode),
        balance=info.balance,
        profit=info.profit,
        equity=info.equity,
        margin=info.margin,
        margin_free=info.margin_free,
        margin_level=round(info.equity / info.margin * 100, 2) if info.margin else 0.0,
        name=info.name,
        server=info.server,
        currency=info.currency,
        company=_company(info.server),
    )


# --- symbols -----------------------------------------------------------------------------


def _symbol_info(broker: SimulatedDriver, name: str) -> SymbolInfo:
    info, tick = broker.symbol_info(name), broker.tick(name)
    visible = name not in _terminal().hidden
    forex = info.trade_contract_size == 100000
    return SymbolInfo(
        select=visible,
        visible=visible,
        time=_seconds(tick.time_msc),
        digits=info.digits,
        spread=round((tick.ask - tick.bid) / info.point),
        trade_calc_mode=SYMBOL_CALC_MODE_FOREX if forex else SYMBOL_CALC_MODE_CFD,
        trade_mode=int(info.trade_mode),
        trade_stops_level=info.trade_stops_level,
        filling_mode=int(info.filling_mode),
        bid=tick.bid,
        bidhigh=tick.bid,
        bidlow=tick.bid,
        ask=tick.ask,
        askhigh=tick.ask,
        asklow=tick.ask,
        point=info.point,
        trade_tick_value=info.trade_tick_value,
        trade_tick_value_profit=info.trade_tick_value,
        trade_tick_value_loss=info.trade_tick_value,
        trade_tick_size=info.trade_tick_size,
        trade_contract_size=info.trade_contract_size,
        volume_min=info.volume_min,
        volume_max=info.volume_max,
        volume_step=info.volume_step,
        margin_hedged=info.trade_contract_size,
        currency_base=name[:3] if forex else info.currency_profit,
        currency_profit=info.currency_profit,
        currency_margin=name[:3] if forex else info.currency_profit,
        description=info.description,
        name=name,
        path=f"{'Forex' if forex else 'CFD'}\\{name}",
    )


@_api(failed=None)
def symbols_total() -> int:
    return len(_broker().symbols())


@_api(failed=None)
def symbols_get(group: str | None = None) -> tuple[SymbolInfo, ...]:
    broker = _broker()
    return tuple(_symbol_info(broker, name) for name in broker.symbols() if _in_group(name, group))


@_api(failed=None)
def symbol_info(symbol: str) -> SymbolInfo:
    _require(isinstance(symbol, str), "symbol")
    broker = _broker()
    if broker.symbol_info(symbol) is None:
        raise _Refused(RES_E_FAIL)
    return _symbol_info(broker, symbol)


@_api(failed=None)
def symbol_info_tick(symbol: str) -> Tick:
    _require(isinstance(symbol, str), "symbol")
    tick = _broker().tick(symbol)
    if tick is None:
        raise _Refused(RES_E_FAIL)
    return Tick(
        time=_seconds(tick.time_msc),
        bid=tick.bid,
        ask=tick.ask,
        time_msc=tick.time_msc,
        flags=TICK_FLAG_BID | TICK_FLAG_ASK,
    )


@_api(failed=False)
def symbol_select(symbol: str, enable: bool = True) -> bool:
    _require(isinstance(symbol, str), "symbol")
    if _broker().symbol_info(symbol) is None:
        raise _Refused(RES_E_FAIL)
    hidden = _terminal().hidden
    if enable:
        hidden.discard(symbol)
    else:
        hidden.add(symbol)
    return True


# --- positions, orders, deals --------------------------------------------------------------


@_api(failed=None)
def positions_total() -> int:
    return len(_broker().positions())


@_api(failed=None)
def positions_get(
    *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradePosition, ...]:
    return tuple(
        TradePosition(
            ticket=p.ticket,
            time=_seconds(p.time_msc),
            time_msc=p.time_msc,
            time_update=_seconds(p.time_msc),
            time_update_msc=p.time_msc,
            type=p.type,
            magic=p.magic,
            identifier=p.identifier,
            volume=p.volume,
            price_open=p.price_open,
            sl=p.sl,
            tp=p.tp,
            price_current=p.price_current,
            profit=p.profit,
            symbol=p.symbol,
            comment=p.comment,
        )
        for p in _broker().positions(symbol=symbol, ticket=ticket)
        if _in_group(p.symbol, group)
    )


@_api(failed=None)
def orders_total() -> int:
    return len(_broker().orders())


@_api(failed=None)
def orders_get(
    *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradeOrder, ...]:
    broker = _broker()
    found = []
    for o in broker.orders(symbol=symbol):
        if (ticket is not None and o.ticket != ticket) or not _in_group(o.symbol, group):
            continue
        tick = broker.tick(o.symbol)
        buy = o.type in (OrderType.BUY_LIMIT, OrderType.BUY_STOP)
        found.append(
            TradeOrder(
                ticket=o.ticket,
                time_setup=_seconds(o.time_setup_msc),
                time_setup_msc=o.time_setup_msc,
                type=o.type,
                magic=o.magic,
                volume_initial=o.volume_initial,
                volume_current=o.volume_current,
                price_open=o.price_open,
                sl=o.sl,
                tp=o.tp,
                price_current=tick.ask if buy else tick.bid,
                symbol=o.symbol,
                comment=o.comment,
            )
        )
    return tuple(found)


def _deals(
    date_from: datetime | float | None,
    date_to: datetime | float | None,
    group: str | None,
    ticket: int | None,
    position: int | None,
) -> list:
    if ticket is None and position is None:
        _require(date_from is not None and date_to is not None, "date_from")
        since, until = _moment(date_from, "date_from"), _moment(date_to, "date_to")
    else:
        since, until = datetime.fromtimestamp(0, tz=UTC), _UNTIL_THE_END
    return [
        d
        for d in _broker().deals(since=since, until=until)
        # ticket= is the ORDER ticket the deals came from (DEAL_ORDER), as in the real module.
        if (ticket is None or d.order == ticket)
        and (position is None or d.position_id == position)
        and _in_group(d.symbol, group)
    ]


@_api(failed=None)
def history_deals_total(date_from: datetime | float, date_to: datetime | float) -> int:
    return len(_deals(date_from, date_to, None, None, None))


@_api(failed=None)
def history_deals_get(
    date_from: datetime | float | None = None,
    date_to: datetime | float | None = None,
    *,
    group: str | None = None,
    ticket: int | None = None,
    position: int | None = None,
) -> tuple[TradeDeal, ...]:
    return tuple(
        TradeDeal(
            ticket=d.ticket,
            order=d.order,
            time=_seconds(d.time_msc),
            time_msc=d.time_msc,
            type=d.type,
            entry=d.entry,
            magic=d.magic,
            position_id=d.position_id,
            reason=d.reason,
            volume=d.volume,
            price=d.price,
            commission=d.commission,
            swap=d.swap,
            profit=d.profit,
            fee=d.fee,
            symbol=d.symbol,
            comment=d.comment,
        )
        for d in _deals(date_from, date_to, group, ticket, position)
    )


# --- trading -----------------------------------------------------------------------------


def _trade_request(request: dict) -> TradeRequest:
    """The real module's checks: known keys only, exact types (an int volume is refused)."""
    if not isinstance(request, dict) or "action" not in request:
        raise _Refused(RES_E_INVALID_PARAMS, "Invalid arguments")
    for key, value in request.items():
        if key not in TradeRequest._field_defaults:
            raise _Refused(RES_E_INVALID_PARAMS, "Invalid arguments")
        _require(isinstance(value, type(TradeRequest._field_defaults[key])), key)
    _require(len(request.get("comment", "")) <= _COMMENT_MAX, "comment")
    return TradeRequest(**request)


def _order_request(request: TradeRequest) -> OrderRequest:
    return OrderRequest(
        action=request.action,
        symbol=request.symbol,
        volume=request.volume,
        type=request.type,
        price=request.price,
        sl=request.sl,
        tp=request.tp,
        deviation=request.deviation,
        type_filling=request.type_filling,
        position=request.position,
        order=request.order,
        magic=request.magic,
        comment=request.comment,
    )


def _words(retcode: int) -> str:
    if retcode == TRADE_RETCODE_DONE:
        return "Request executed"
    return TRADE_RETCODES.get(retcode, ("", "Unknown retcode"))[1]


@_api(failed=None)
def order_check(request: dict) -> OrderCheckResult:
    trade = _trade_request(request)
    broker = _broker()
    result = broker.order_check(_order_request(trade))
    # The paper broker reports the account as it is; MT5 would add the order's margin.
    account = broker.account_info()
    return OrderCheckResult(
        retcode=result.retcode,
        balance=account.balance,
        equity=account.equity,
        profit=account.profit,
        margin=account.margin,
        margin_free=account.margin_free,
        margin_level=round(account.equity / account.margin * 100, 2) if account.margin else 0.0,
        comment="Done" if result.retcode == 0 else _words(result.retcode),
        request=trade,
    )


@_api(failed=None)
def order_send(request: dict) -> OrderSendResult:
    trade = _trade_request(request)
    result = _broker().order_send(_order_request(trade))
    return OrderSendResult(
        retcode=result.retcode,
        deal=result.deal,
        order=result.order,
        volume=result.volume,
        price=result.price,
        bid=result.bid,
        ask=result.ask,
        comment=_words(result.retcode),
        request_id=next(_state.request_ids),
        request=trade,
    )


# --- real functions the paper broker cannot answer -------------------------------------------


def _not_simulated(name: str) -> Callable[..., None]:
    def function(*args: Any, **kwargs: Any) -> None:
        raise _Refused(RES_E_UNSUPPORTED)

    function.__name__ = function.__qualname__ = name
    return _api(failed=None)(function)


copy_rates_from = _not_simulated("copy_rates_from")
copy_rates_from_pos = _not_simulated("copy_rates_from_pos")
copy_rates_range = _not_simulated("copy_rates_range")
copy_ticks_from = _not_simulated("copy_ticks_from")
copy_ticks_range = _not_simulated("copy_ticks_range")
history_orders_total = _not_simulated("history_orders_total")
history_orders_get = _not_simulated("history_orders_get")
order_calc_margin = _not_simulated("order_calc_margin")
order_calc_profit = _not_simulated("order_calc_profit")
market_book_add = _not_simulated("market_book_add")
market_book_get = _not_simulated("market_book_get")
market_book_release = _not_simulated("market_book_release")
