"""The one interface every terminal driver implements (MetaTrader5 library, EA file
bridge, simulated paper broker).

Shapes and numbers follow the MetaTrader5 Python module: a driver returns these
dataclasses whatever it talks to, so order code never knows which terminal it drives.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class OrderType(IntEnum):  # ORDER_TYPE_*
    BUY = 0
    SELL = 1
    BUY_LIMIT = 2
    SELL_LIMIT = 3
    BUY_STOP = 4
    SELL_STOP = 5


class TradeAction(IntEnum):  # TRADE_ACTION_*
    DEAL = 1
    PENDING = 5
    SLTP = 6
    MODIFY = 7
    REMOVE = 8
    CLOSE_BY = 10


class Filling(IntEnum):  # ORDER_FILLING_*
    FOK = 0
    IOC = 1
    RETURN = 2


class SymbolFillingFlag(IntEnum):  # SYMBOL_FILLING_* bits of SymbolInfo.filling_mode
    FOK = 1
    IOC = 2


class TradeMode(IntEnum):  # SYMBOL_TRADE_MODE_*
    DISABLED = 0
    LONGONLY = 1
    SHORTONLY = 2
    CLOSEONLY = 3
    FULL = 4


class MarginMode(IntEnum):  # ACCOUNT_MARGIN_MODE_*
    RETAIL_NETTING = 0
    EXCHANGE = 1
    RETAIL_HEDGING = 2


class DealEntry(IntEnum):  # DEAL_ENTRY_*
    IN = 0
    OUT = 1
    INOUT = 2
    OUT_BY = 3


class DealType(IntEnum):  # DEAL_TYPE_*: trades are BUY and SELL; the rest move money
    BUY = 0
    SELL = 1
    BALANCE = 2
    CREDIT = 3
    CHARGE = 4
    CORRECTION = 5
    BONUS = 6
    COMMISSION = 7
    COMMISSION_DAILY = 8
    COMMISSION_MONTHLY = 9
    COMMISSION_AGENT_DAILY = 10
    COMMISSION_AGENT_MONTHLY = 11
    INTEREST = 12
    BUY_CANCELED = 13
    SELL_CANCELED = 14
    DIVIDEND = 15
    DIVIDEND_FRANKED = 16
    TAX = 17


class DealReason(IntEnum):  # DEAL_REASON_*: who or what made the deal
    CLIENT = 0  # by hand in the desktop terminal
    MOBILE = 1
    WEB = 2
    EXPERT = 3  # a program: an EA, a script, or the MetaTrader5 Python library (our orders)
    SL = 4
    TP = 5
    SO = 6  # stop out
    ROLLOVER = 7
    VMARGIN = 8
    SPLIT = 9


@dataclass(frozen=True)
class AccountInfo:
    login: int
    server: str
    name: str
    currency: str
    leverage: int
    balance: float
    equity: float
    margin: float
    margin_free: float
    profit: float
    margin_mode: int = MarginMode.RETAIL_HEDGING
    trade_allowed: bool = True


@dataclass(frozen=True)
class SymbolInfo:
    name: str
    description: str
    digits: int
    point: float
    trade_tick_size: float
    trade_tick_value: float
    trade_contract_size: float
    volume_min: float
    volume_step: float
    volume_max: float
    filling_mode: int  # SymbolFillingFlag bits
    trade_stops_level: int  # in points
    trade_mode: int = TradeMode.FULL
    currency_profit: str = "USD"


@dataclass(frozen=True)
class Tick:
    symbol: str
    bid: float
    ask: float
    time_msc: int


@dataclass(frozen=True)
class Position:
    ticket: int
    symbol: str
    type: int  # 0 buy, 1 sell (POSITION_TYPE_*)
    volume: float
    price_open: float
    price_current: float
    sl: float
    tp: float
    profit: float
    magic: int
    comment: str
    time_msc: int
    identifier: int


@dataclass(frozen=True)
class PendingOrder:
    ticket: int
    symbol: str
    type: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    magic: int
    comment: str
    time_setup_msc: int


@dataclass(frozen=True)
class Deal:
    """One deal of the account's history, as MT5's history_deals_get gives it: trades (type BUY
    or SELL) and money movements (BALANCE, CREDIT, BONUS, …: symbol "", volume 0, the amount
    in profit). Readers that want trades alone keep types BUY and SELL."""

    ticket: int
    order: int
    position_id: int
    symbol: str
    type: int
    entry: int
    volume: float
    price: float
    profit: float
    magic: int
    comment: str
    time_msc: int
    reason: int = DealReason.CLIENT
    commission: float = 0.0
    swap: float = 0.0
    fee: float = 0.0


@dataclass(frozen=True)
class OrderRequest:
    action: int
    symbol: str
    volume: float = 0.0
    type: int = OrderType.BUY
    price: float = 0.0
    sl: float = 0.0
    tp: float = 0.0
    deviation: int = 20
    type_filling: int = Filling.FOK
    position: int = 0  # the position a close or SL/TP change acts on (hedging needs it)
    order: int = 0  # the pending order a modify or remove acts on
    magic: int = 0
    comment: str = ""


@dataclass(frozen=True)
class OrderResult:
    retcode: int
    deal: int = 0
    order: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    comment: str = ""
    request_id: int = 0


class TerminalError(Exception):
    """The terminal could not be reached or refused a call; code is MT5's last_error()."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code, self.message = code, message


class Driver(ABC):
    """One attached terminal. Not thread-safe: one driver, one caller at a time."""

    @abstractmethod
    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        """Log in; raises TerminalError with MT5's reason (wrong password, unknown server)."""

    @abstractmethod
    def account_info(self) -> AccountInfo: ...

    @abstractmethod
    def symbols(self) -> list[str]: ...

    @abstractmethod
    def symbol_info(self, symbol: str) -> SymbolInfo | None: ...

    def symbol_infos(self, symbols: list[str] | None = None) -> list[SymbolInfo]:
        """The specs of `symbols` (None: every symbol the terminal offers) in their order;
        names the terminal does not know are left out. A driver that can read them all
        at once overrides this."""
        names = self.symbols() if symbols is None else symbols
        return [info for name in names if (info := self.symbol_info(name)) is not None]

    @abstractmethod
    def tick(self, symbol: str) -> Tick | None: ...

    @abstractmethod
    def positions(self, *, symbol: str | None = None, ticket: int | None = None) -> list[Position]: ...

    @abstractmethod
    def orders(self, *, symbol: str | None = None) -> list[PendingOrder]: ...

    @abstractmethod
    def deals(self, *, since: datetime, until: datetime) -> list[Deal]:
        """Every deal with since <= time <= until, money movements included, oldest first."""

    @abstractmethod
    def order_check(self, request: OrderRequest) -> OrderResult:
        """What order_send would answer, without trading (retcode 0 means it would pass)."""

    @abstractmethod
    def order_send(self, request: OrderRequest) -> OrderResult: ...

    @classmethod
    def order_send_many(cls, sends: list[tuple["Driver", OrderRequest]]) -> list[OrderResult]:
        """order_send of several terminals of this driver, one request each, at the same moment;
        the results in the order of `sends`. One by one here; a driver whose terminals can take
        them together (the paper broker: one transaction) overrides this."""
        return [driver.order_send(request) for driver, request in sends]

    @abstractmethod
    def shutdown(self) -> None: ...
