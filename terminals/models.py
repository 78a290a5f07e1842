from decimal import Decimal
from typing import Self

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from mt5saas.models import EncryptedField, OwnedModel, OwnedQuerySet

# The paper broker's models live in its room; imported here so Django registers them with the app.
from .paper.models import SimAccount, SimDeal, SimOrder, SimPosition  # noqa: F401

# MT5 logins are positive 64-bit integers; 18 digits always fit.
LOGIN_PATTERN = r"^[1-9][0-9]{0,17}$"
LOGIN_MESSAGE = "A login is 1 to 18 digits."
COMMENT_LENGTH = 31  # MT5 keeps this many characters of an order's comment
MONEY = {"max_digits": 18, "decimal_places": 2, "default": Decimal("0")}


class TerminalHostQuerySet(models.QuerySet):
    def with_load(self) -> Self:
        return self.annotate(
            load=Count("accounts", filter=Q(accounts__deleted_at__isnull=True), distinct=True),
        )


class TerminalHost(models.Model):
    """A machine that runs terminals and a qcluster reading its own queue."""

    class Kind(models.TextChoices):
        WINDOWS = "windows", "Windows host (MetaTrader5 library, EA bridge)"
        SIMULATED = "simulated", "Simulated terminals"

    name = models.CharField(max_length=100, unique=True)
    # The django-q2 cluster name: `Q_CLUSTER_NAME=<queue_name> manage.py qcluster` on the host.
    queue_name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.WINDOWS)
    capacity = models.PositiveIntegerField(default=20, validators=[MinValueValidator(1)])
    # Where portable terminal instances live on the host, e.g. C:\mt5\instances.
    instance_root = models.CharField(max_length=260, blank=True)
    online = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cpu_percent = models.FloatField(null=True, blank=True)
    memory_percent = models.FloatField(null=True, blank=True)
    terminals_running = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TerminalHostQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name


def _share_or_empty(name: str) -> models.CheckConstraint:
    """A fraction field holds more than 0 and at most 1, or nothing (no limit)."""
    condition = Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gt": 0, f"{name}__lte": 1})
    return models.CheckConstraint(condition=condition, name=f"account_{name}_share")


class EAStatus(models.TextChoices):
    SILENT = "", "not reported"  # not an EA account, or its EA has not said anything of itself yet
    RUNNING = "running"
    LOADED = "loaded"  # on its chart, but Algo Trading is off: it refuses commands
    UNLOADED = "unloaded"  # removed from its chart, or its terminal closing: its last word


class TradingAccountQuerySet(OwnedQuerySet):
    def alive(self) -> Self:
        return self.filter(deleted_at__isnull=True)


class TradingAccount(OwnedModel):
    class Kind(models.TextChoices):
        MT5 = "mt5", "MetaTrader 5 (Python library)"
        EA_BRIDGE = "ea_bridge", "MetaTrader 5 (EA file bridge)"
        SIMULATED = "simulated", "Simulated paper account"

    class Status(models.TextChoices):
        UNASSIGNED = "unassigned"
        CONNECTING = "connecting"
        ONLINE = "online"
        OFFLINE = "offline"
        ERROR = "error"
        STOPPED = "stopped"

    # Its terminal is not kept running and it takes no orders; ERROR: the broker refused the
    # password, and retrying could lock the real account.
    INACTIVE = (Status.STOPPED, Status.ERROR)

    login = models.CharField(max_length=20, validators=[RegexValidator(LOGIN_PATTERN, LOGIN_MESSAGE)])
    server = models.CharField(max_length=100)
    broker = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.MT5)
    nickname = models.CharField(max_length=60, blank=True)
    is_demo = models.BooleanField(default=True)
    password = EncryptedField()
    host = models.ForeignKey(TerminalHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    # EA bridge: the host whose portable terminal was last logged in with these credentials.
    # An account assigned or moved to another host is logged in there by its host agent.
    logged_in_host = models.ForeignKey(
        TerminalHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    status = models.CharField(max_length=12, choices=Status, default=Status.CONNECTING)
    status_reason = models.CharField(max_length=300, blank=True)
    # What the account's EA last said of itself in its status file (EA bridge accounts).
    ea_status = models.CharField(max_length=60, blank=True, choices=EAStatus)
    ea_name = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    balance = models.DecimalField(**MONEY)
    equity = models.DecimalField(**MONEY)
    margin = models.DecimalField(**MONEY)
    free_margin = models.DecimalField(**MONEY)
    profit = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=10, blank=True)
    leverage = models.PositiveIntegerField(null=True, blank=True)
    hedging = models.BooleanField(default=True)
    # Risk guards, each checked before an order is sent; empty means no limit.
    max_lot = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    max_open_positions = models.PositiveIntegerField(null=True, blank=True)
    # Today's loss (realised + floating) that stops new positions: an amount in the account
    # currency, and a fraction of the day's starting balance (0.03 = 3 %).
    max_daily_loss = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    max_daily_loss_fraction = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    # What one new position may lose at its stop loss, as a fraction of the balance (0.02 = 2 %).
    max_trade_risk_fraction = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    allowed_symbols = models.JSONField(default=list, blank=True)
    max_trades_per_hour = models.PositiveIntegerField(default=100)
    is_current = models.BooleanField(default=False)
    # The terminal's symbol names, refreshed by the host agent: signals are mapped against
    # them at intake without a round trip to the host.
    symbols = models.JSONField(default=list, blank=True)
    # Lease of the one worker draining this account's order queue (docs/execution.md: orders of one
    # account run one at a time, in arrival order). Expired leases are taken over.
    drain_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Soft delete: orders keep pointing at the account; the instance is stopped.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = TradingAccountQuerySet.as_manager()

    class Meta:
        constraints = [
            # One live registration of an MT5 account, whoever owns it: two owners of one
            # real account would each trade it.
            models.UniqueConstraint(
                fields=["server", "login"],
                condition=Q(deleted_at__isnull=True),
                name="account_unique_live_login",
                violation_error_message="This MT5 account is already registered.",
            ),
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_current=True, deleted_at__isnull=True),
                name="account_one_current_per_owner",
            ),
            _share_or_empty("max_daily_loss_fraction"),
            _share_or_empty("max_trade_risk_fraction"),
        ]

    def __str__(self) -> str:
        return f"{self.nickname or self.login} ({self.server})"

    @property
    def is_active(self) -> bool:
        """Its terminal is kept running and it takes orders: not stopped, no password refused."""
        return self.status not in self.INACTIVE


class SymbolMapping(OwnedModel):
    """What a requested symbol (from TradingView or a master) is called on one account."""

    class Source(models.TextChoices):
        CUSTOM = "custom"
        LEARNED = "learned"

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="symbol_mappings")
    requested = models.CharField(max_length=40)
    broker_symbol = models.CharField(max_length=40)
    source = models.CharField(max_length=8, choices=Source, default=Source.CUSTOM)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "requested"], name="mapping_unique_requested"),
        ]

    def __str__(self) -> str:
        return f"{self.requested} → {self.broker_symbol}"


class AccountEvent(models.Model):
    """Online/offline transitions and errors of an account, kept for the trader and operator."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="events")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=TradingAccount.Status)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.status}"


class OrderQuerySet(OwnedQuerySet):
    def final(self) -> Self:
        return self.filter(status__in=Order.FINAL)


class Order(OwnedModel):
    """One order for one account, from the moment it is queued to its final state.

    status moves queued → sending → filled | rejected | failed | cancelled. `sending` is
    set in a committed transaction before the terminal is called: an order found in
    `sending` later may have reached the broker and is reconciled, never sent again blind.
    A pending (limit/stop) order the terminal took is `placed` until the host agent sees it
    fill or leave the terminal's pending orders (terminals/orders/placed.py).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        PLACED = "placed"
        FILLED = "filled"
        REJECTED = "rejected"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Source(models.TextChoices):
        WEBHOOK = "webhook"
        COPY = "copy"
        API = "api"
        MANUAL = "manual"

    class Action(models.TextChoices):
        OPEN = "open"
        CLOSE_TICKET = "close_ticket"
        CLOSE_SYMBOL = "close_symbol"
        CLOSE_ALL = "close_all"
        MODIFY_SLTP = "modify_sltp"  # TRADE_ACTION_SLTP on one position

    FINAL = (Status.FILLED, Status.REJECTED, Status.FAILED, Status.CANCELLED)

    # PROTECT: accounts with history are deactivated, never deleted.
    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="orders")
    signal = models.ForeignKey(
        "webhooks.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    source = models.CharField(max_length=8, choices=Source, default=Source.WEBHOOK)
    action = models.CharField(max_length=12, choices=Action, default=Action.OPEN)
    side = models.CharField(max_length=4, blank=True)  # buy | sell | "" (closes of both sides)
    order_type = models.CharField(max_length=6, default="market")  # market | limit | stop
    requested_symbol = models.CharField(max_length=40, blank=True)
    symbol = models.CharField(max_length=40, blank=True)  # the account's name for it, once mapped
    # Four places: a request below a symbol's step (0.004 lots) must survive to be refused by name.
    volume = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    risk_percent = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    price = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    sl = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    tp = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    sl_pips = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    tp_pips = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The position a close names; for an open on a netting account, the position it filled into.
    position_ticket = models.BigIntegerField(null=True, blank=True)
    # The order that opened the position this one closes or modifies, when its ticket is not
    # known yet: a copied close may be queued while the copied open still waits before it.
    # Its ticket is read when this order executes (orders of one account run in order).
    position_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A close of part of the position: this share of the volume open when it executes.
    close_fraction = models.DecimalField(max_digits=10, decimal_places=8, null=True, blank=True)
    # A copy's tie to its master's order, COPY_<order_id> (any master order id whole: 5 + 64
    # characters), sent cut in the MT5 comment (terminal_comment) and whole in an EA bridge's
    # slave command.
    link = models.CharField(max_length=69, blank=True)
    status = models.CharField(max_length=9, choices=Status, default=Status.QUEUED, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    retcode = models.IntegerField(null=True, blank=True)
    ticket = models.BigIntegerField(null=True, blank=True)
    fill_price = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    # The symbol's price digits, once its terminal told them: prices are shown at them.
    digits = models.PositiveSmallIntegerField(null=True, blank=True)
    filled_volume = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    # The lots the request carried (an open's size once risk-sized and normalised; a close's,
    # summed over its positions), written before it is sent: `volume` stays what was asked
    # (none for a risk-sized order), and a resend after an interruption reuses this size.
    sent_volume = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    comment = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Received: a signal's orders carry its received_at, so every stamp counts from the request.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)  # "Clear" hides; the audit keeps it

    objects = OrderQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(volume__isnull=True) | Q(volume__gt=0), name="order_volume_positive"),
            models.CheckConstraint(
                condition=Q(close_fraction__isnull=True) | Q(close_fraction__gt=0, close_fraction__lte=1),
                name="order_close_fraction_share",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status", "created_at"]),
            models.Index(fields=["owner", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.action} {self.side} {self.requested_symbol}"

    @property
    def latency_ms(self) -> float | None:
        """Received to final, in milliseconds."""
        if self.done_at is None:
            return None
        return round((self.done_at - self.created_at).total_seconds() * 1000, 1)

    @property
    def stamps_ms(self) -> list[tuple[str, float]]:
        """(queued|sent|done, milliseconds after received) for the stamps this order has."""
        stamps = [("queued", self.queued_at), ("sent", self.sent_at), ("done", self.done_at)]
        return [(name, round((at - self.created_at).total_seconds() * 1000, 1)) for name, at in stamps if at]

    @property
    def client_id(self) -> str:
        """Carried in the MT5 comment so a terminal can be asked whether this order exists:
        short (MT5 keeps 31 characters of comment) and unique per service."""
        return f"mt5s{self.pk:x}"

    @property
    def terminal_comment(self) -> str:
        """The MT5 comment sent with this order's requests, at most 31 characters.

        A copy carries its link first and the client id last, "COPY_<order_id> mt5s1a2b":
        the link is cut, never the client id, so reconciliation (which matches the whole
        comment) still finds the order, and the link still names the master's order for
        people and EAs reading the terminal. The database link (copytrading.CopyLink) is
        what close and modify rely on; a cut link only reads shorter.
        """
        cid = self.client_id
        if not self.link:
            return cid
        room = COMMENT_LENGTH - len(cid) - 1
        return f"{self.link[:room]} {cid}"
