"""The account's risk limits, checked before a new position is opened, each with a reason in
words when it blocks; and the symbol an order trades on the account's terminal."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from ..drivers.base import Driver
from ..models import Order, SymbolMapping, TradingAccount
from ..symbols import MAPPING_NOT_READ, SymbolError, symbol_mappings_read, symbol_normalize, symbol_resolve
from .prepare import percent_text

Status = Order.Status
HOUR = timedelta(hours=1)  # max_trades_per_hour counts the orders sent this long back
CENT = Decimal("0.01")
# DEAL_TYPE_BUY and DEAL_TYPE_SELL: a deposit or withdrawal (DEAL_TYPE_BALANCE) is no trading loss.
TRADE_DEALS = (0, 1)
# What the trades-per-hour guard counts: what reached the broker, or may have.
COUNTED_TRADES = (Status.FILLED, Status.PLACED, Status.SENDING)


class Refused(Exception):
    """The order is not sent: a guard or the preparation said no; the reason says why."""


@dataclass
class RoundLookups:
    """What the guards of a round of orders (one per account) read at once, instead of once per order."""

    mappings: dict[tuple[int, str], SymbolMapping] = field(default_factory=dict)
    sent_last_hour: dict[int, int] = field(default_factory=dict)  # account → its other orders sent

    @classmethod
    def read(cls, orders: list[Order]) -> "RoundLookups":
        lookups = cls()
        if not orders:
            return lookups
        lookups.mappings = symbol_mappings_read((order.account_id, order.requested_symbol) for order in orders)
        accounts = {order.account_id for order in orders}
        sent = (
            Order.objects.filter(account_id__in=accounts, sent_at__gte=timezone.now() - HOUR, status__in=COUNTED_TRADES)
            .exclude(pk__in=[order.pk for order in orders])
            .values("account_id")
            .annotate(count=Count("pk"))
        )
        lookups.sent_last_hour = {row["account_id"]: row["count"] for row in sent}
        return lookups

    def mapping(self, order: Order) -> SymbolMapping | object | None:
        """The account's mapping of the order's symbol, None if it has none; MAPPING_NOT_READ for a
        symbol that does not normalise (symbol_resolve says why)."""
        try:
            return self.mappings.get((order.account_id, symbol_normalize(order.requested_symbol)))
        except SymbolError:
            return MAPPING_NOT_READ


def symbol_of(order: Order, driver: Driver, lookups: RoundLookups | None = None) -> str:
    """The account's name for the order's symbol, set on the order; Refused when there is none."""
    mapping = lookups.mapping(order) if lookups is not None else MAPPING_NOT_READ
    try:
        symbol = symbol_resolve(
            account=order.account, requested=order.requested_symbol, available=driver.symbols(), mapping=mapping
        )
    except SymbolError as error:
        raise Refused(str(error)) from None
    order.symbol = symbol
    return symbol


def guards_check(order: Order, driver: Driver, lookups: RoundLookups | None = None) -> None:
    """The account's limits on a new position: allowed symbols, open positions, trades per
    hour, daily loss; Refused with the reason of the first that blocks."""
    account = order.account
    symbol = symbol_of(order, driver, lookups)
    allowed = account.allowed_symbols
    if allowed and symbol not in allowed and order.requested_symbol not in allowed:
        raise Refused(f"{symbol} is not among the account's allowed symbols.")
    if account.max_open_positions is not None and len(driver.positions()) >= account.max_open_positions:
        raise Refused(f"The account already has its maximum of {account.max_open_positions} open positions.")
    if lookups is not None:
        sent = lookups.sent_last_hour.get(account.pk, 0)
    else:
        recent = Order.objects.filter(account=account, sent_at__gte=timezone.now() - HOUR, status__in=COUNTED_TRADES)
        sent = recent.exclude(pk=order.pk).count()
    if sent >= account.max_trades_per_hour:
        raise Refused(f"The account reached its limit of {account.max_trades_per_hour} trades per hour.")
    if account.max_daily_loss is not None or account.max_daily_loss_fraction is not None:
        _daily_loss_check(account, driver)


def _daily_loss_check(account: TradingAccount, driver: Driver) -> None:
    """Today's loss (closed deals since midnight UTC plus the open positions' floating
    profit) against the account's limits: an amount, and a fraction of the balance the day
    started with (today's balance less what today's deals realised)."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    deals = driver.deals(since=midnight, until=timezone.now())
    realised = sum(Decimal(str(d.profit)) for d in deals if d.type in TRADE_DEALS)
    info = driver.account_info()
    loss = -(realised + Decimal(str(info.profit)))
    if account.max_daily_loss is not None and loss >= account.max_daily_loss:
        raise Refused(f"Today's loss reached the account's limit of {account.max_daily_loss}.")
    if (fraction := account.max_daily_loss_fraction) is not None:
        limit = (fraction * (Decimal(str(info.balance)) - realised)).quantize(CENT)
        if loss >= limit:
            raise Refused(
                f"Today's loss of {loss.quantize(CENT)} {info.currency} reached the account's limit of "
                f"{percent_text(fraction)} of the day's starting balance ({limit} {info.currency})."
            )


def trade_risk_check(account: TradingAccount, *, risk: Decimal, loss: Decimal | None = None) -> None:
    """Refuse a new position that risks more than the account's max_trade_risk_fraction of its
    balance: `risk` is the share asked for (a risk-sized order) or lost at the stop loss (`loss`)."""
    limit = account.max_trade_risk_fraction
    if limit is None or risk <= limit:
        return
    at_stop = f" ({loss.quantize(CENT)} {account.currency} at the stop loss)" if loss is not None else ""
    raise Refused(
        f"This order risks {percent_text(risk)} of the balance{at_stop}, above the account's limit of "
        f"{percent_text(limit)} per trade."
    )
