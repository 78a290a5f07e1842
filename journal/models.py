"""The trade journal: every deal an account's terminal reports, the trades (a position from open
to close) built from them, equity points from the heartbeats, and how far each account's deal
history has been read."""

from decimal import Decimal

from django.db import models

from mt5saas.models import OwnedModel

MONEY = {"max_digits": 18, "decimal_places": 2, "default": Decimal("0")}
PRICE = {"max_digits": 20, "decimal_places": 8}
LOTS = {"max_digits": 14, "decimal_places": 4}


class Source(models.TextChoices):
    """What caused a deal or opened a trade on our side."""

    WEBHOOK = "webhook"
    COPY = "copy"
    API = "api"
    MANUAL = "manual"
    ALGORITHM = "algorithm"
    OUTSIDE = "outside", "Outside the service"  # no order of ours: by hand, another EA, the broker


class Deal(OwnedModel):
    """One deal of one account's history, stored once per (account, ticket) however often it is read."""

    class Kind(models.TextChoices):  # DEAL_TYPE_*, by name
        BUY = "buy"
        SELL = "sell"
        BALANCE = "balance"
        CREDIT = "credit"
        CHARGE = "charge"
        CORRECTION = "correction"
        BONUS = "bonus"
        COMMISSION = "commission"
        INTEREST = "interest"
        CANCELED = "canceled"
        DIVIDEND = "dividend"
        TAX = "tax"

    class Entry(models.TextChoices):
        IN = "in"
        OUT = "out"
        INOUT = "inout"
        OUT_BY = "out_by"

    class Reason(models.TextChoices):
        CLIENT = "client"
        MOBILE = "mobile"
        WEB = "web"
        EXPERT = "expert"
        SL = "sl"
        TP = "tp"
        SO = "so"
        ROLLOVER = "rollover"
        VMARGIN = "vmargin"
        SPLIT = "split"

    account = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    ticket = models.BigIntegerField()
    time = models.DateTimeField()
    time_msc = models.BigIntegerField()  # the terminal's own stamp, kept whole for the cursor
    kind = models.CharField(max_length=10, choices=Kind)
    side = models.CharField(max_length=4, blank=True)  # buy | sell; "" for money movements
    entry = models.CharField(max_length=6, choices=Entry, blank=True)
    symbol = models.CharField(max_length=40, blank=True)
    volume = models.DecimalField(**LOTS, default=Decimal("0"))
    price = models.DecimalField(**PRICE, default=Decimal("0"))
    profit = models.DecimalField(**MONEY)
    commission = models.DecimalField(**MONEY)
    swap = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=10, blank=True)  # the account's, when the deal was stored
    position = models.BigIntegerField(default=0)
    terminal_order = models.BigIntegerField(default=0)  # the terminal's order ticket
    magic = models.BigIntegerField(default=0)
    comment = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=8, choices=Reason, default=Reason.CLIENT)
    # Attribution, from what the order carries (its client id in the comment, its ticket).
    order = models.ForeignKey("terminals.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=9, choices=Source, default=Source.OUTSIDE)
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "ticket"], name="journal_deal_once_per_account")]
        indexes = [
            # The journal's filters ride along: a page's count reads the index alone, no row.
            models.Index(
                fields=["owner", "-time", "symbol", "side", "source", "account"], name="journal_deal_owner_list"
            ),
            models.Index(fields=["account", "-time"]),
            models.Index(fields=["account", "position"]),
            # A ticket stored for another account too is logged: found without a scan.
            models.Index(fields=["ticket"]),
            # The statistics' money movements (a few kinds among two deals a trade), read from
            # the index alone.
            models.Index(fields=["owner", "kind", "time", "currency", "profit"], name="journal_deal_owner_money"),
            models.Index(fields=["account", "kind", "time", "currency", "profit"], name="journal_deal_account_money"),
        ]

    def __str__(self) -> str:
        return f"deal {self.ticket} {self.kind} {self.symbol}"


_STATS_KEY_OWNER = ("owner", "status", "close_time", "id")
_STATS_KEY_ACCOUNT = ("account", "status", "close_time", "id")
_STATS_COLUMNS = ("currency", "profit", "side", "commission", "swap", "symbol", "strategy", "copy_pair")


class Trade(OwnedModel):
    """A position from its opening deal to the deal that closed it, partial closes and netting
    additions included. Open until its volume is closed; a netting reverse closes it and opens
    the next trade of the same position id (`open_deal` tells them apart)."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    account = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    position = models.BigIntegerField()
    open_deal = models.BigIntegerField()  # the ticket of the deal that opened it (in or inout)
    status = models.CharField(max_length=6, choices=Status, default=Status.OPEN)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)  # buy | sell
    volume = models.DecimalField(**LOTS)  # everything opened (netting additions included)
    closed_volume = models.DecimalField(**LOTS, default=Decimal("0"))
    open_time = models.DateTimeField()
    open_price = models.DecimalField(**PRICE)  # volume-weighted over the opening deals
    close_time = models.DateTimeField(null=True, blank=True)
    close_price = models.DecimalField(**PRICE, null=True, blank=True)  # volume-weighted over the closing deals
    gross_profit = models.DecimalField(**MONEY)  # the deals' profit, before costs
    commission = models.DecimalField(**MONEY)
    swap = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    profit = models.DecimalField(**MONEY)  # net: gross + commission + swap + fee (costs are negative)
    currency = models.CharField(max_length=10, blank=True)
    pips = models.DecimalField(max_digits=14, decimal_places=1, null=True, blank=True)
    duration_s = models.PositiveIntegerField(null=True, blank=True)
    close_reason = models.CharField(max_length=8, choices=Deal.Reason, blank=True)
    source = models.CharField(max_length=9, choices=Source, default=Source.OUTSIDE)
    strategy = models.CharField(max_length=100, blank=True)  # the alert's comment
    order = models.ForeignKey("terminals.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    signal = models.ForeignKey("webhooks.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    copy_pair = models.ForeignKey(
        "copytrading.CopyPair", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Fill against the price the alert asked for, in points; positive is worse for the trader.
    slippage_points = models.DecimalField(max_digits=14, decimal_places=1, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "open_deal"], name="journal_trade_once_per_opening")]
        indexes = [
            # The journal's filters ride along: a filtered page and its count over 100,000 trades
            # read the index alone (bench figures in docs/api.md).
            models.Index(
                fields=[
                    "owner",
                    "status",
                    "-close_time",
                    "symbol",
                    "side",
                    "source",
                    "strategy",
                    "account",
                    "copy_pair",
                ],
                name="journal_trade_owner_list",
            ),
            models.Index(fields=["account", "position"]),
            # The statistics read every closed trade in (close time, id) order, or grouped by one
            # of the breakdowns' keys: with the columns they need in the index, from the index
            # alone (SQLite and PostgreSQL).
            models.Index(fields=[*_STATS_KEY_OWNER, *_STATS_COLUMNS], name="journal_trade_owner_stats"),
            models.Index(fields=[*_STATS_KEY_ACCOUNT, *_STATS_COLUMNS], name="journal_trade_account_stats"),
        ]

    def __str__(self) -> str:
        return f"trade {self.pk} {self.side} {self.symbol}"


class DealCursor(models.Model):
    """How far an account's deal history has been read: deals are asked for from `time_msc`
    minus an overlap, and the (account, ticket) constraint drops what was read before."""

    account = models.OneToOneField(
        "terminals.TradingAccount", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    time_msc = models.BigIntegerField(default=0)
    last_ticket = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    # {ticket: time_msc} of the deals stored inside the overlap: a round that reads them again
    # knows them without asking the database.
    recent = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"deal cursor {self.account_id} {self.time_msc}"


class EquityPoint(OwnedModel):
    """Balance and equity at a moment, from the heartbeats: one a minute, thinned to one an hour
    after a week, dropped after the retention setting."""

    class Step(models.IntegerChoices):
        MINUTE = 60
        HOUR = 3600

    account = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    step = models.PositiveIntegerField(choices=Step, default=Step.MINUTE)
    balance = models.DecimalField(**MONEY)
    equity = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "at"], name="journal_equity_point_once")]
        indexes = [models.Index(fields=["owner", "at"])]

    def __str__(self) -> str:
        return f"equity {self.account_id} {self.at:%Y-%m-%d %H:%M}"
