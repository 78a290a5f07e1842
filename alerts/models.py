"""Alert preferences, outbound webhook endpoints, price alerts, alerts raised and their deliveries."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from mt5saas.models import EncryptedField, OwnedModel, OwnedQuerySet


class Kind(models.TextChoices):
    ORDER_FILLED = "order_filled", "Order filled"
    ORDER_FAILED = "order_failed", "Order rejected or failed"
    SIGNAL_REJECTED = "signal_rejected", "Signal rejected"
    ACCOUNT_STATUS = "account_status", "Account online/offline"
    HOST_OFFLINE = "host_offline", "Host offline"
    COPY_ERROR = "copy_error", "Copy trade error"
    DAILY_SUMMARY = "daily_summary", "Daily P&L summary"
    PRICE = "price", "Price alert triggered"
    # A position the terminal closed itself (journal.signals.trades_closed, by the deal's reason).
    CLOSED_SL = "closed_sl", "Position closed by stop loss"
    CLOSED_TP = "closed_tp", "Position closed by take profit"
    STOP_OUT = "stop_out", "Stop-out"
    # Operator alerts (to ALERT_EMAIL), never a trader's preference.
    SERVICE = "service", "Service"


TRADER_KINDS = [kind for kind in Kind if kind != Kind.SERVICE]
# Where a kind goes until the trader chooses: everything in the app, and by email what they
# must act on (when they have an address). Migrations 0004 and 0005 gave them to the traders before.
DEFAULT_EMAIL_KINDS = frozenset({Kind.ORDER_FAILED, Kind.SIGNAL_REJECTED, Kind.ACCOUNT_STATUS, Kind.STOP_OUT})


class Endpoint(OwnedModel):
    """One of a trader's outbound webhook URLs."""

    class Style(models.TextChoices):
        GENERIC = "generic", "Generic JSON"
        DISCORD = "discord", "Discord"
        SLACK = "slack", "Slack"
        TELEGRAM = "telegram", "Telegram"

    name = models.CharField(max_length=80)
    # Encrypted: Discord, Slack and Telegram URLs carry their own credentials.
    url = EncryptedField()
    url_display = models.CharField(max_length=120)  # scheme://host/… — safe to show anywhere
    style = models.CharField(max_length=10, choices=Style, default=Style.GENERIC)
    # The signing secret, shown to the owner once at creation (or rotation).
    secret = EncryptedField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.url_display})"


class Preference(OwnedModel):
    """Where one kind of alert goes for one trader; every trader gets a row per kind with
    the defaults when created (services.preferences_default), and no row means nowhere."""

    kind = models.CharField(max_length=20, choices=Kind)
    in_app = models.BooleanField(default=False)
    email = models.BooleanField(default=False)
    endpoints = models.ManyToManyField(Endpoint, blank=True, related_name="preferences")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "kind"], name="alerts_preference_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.kind}"


class PriceAlert(OwnedModel):
    class Condition(models.TextChoices):
        CROSSES_ABOVE = "crosses_above", "crosses above"
        CROSSES_BELOW = "crosses_below", "crosses below"
        ABOVE = "above", "is greater than"
        BELOW = "below", "is less than"

    name = models.CharField(max_length=80, blank=True)
    account = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    symbol = models.CharField(max_length=40)
    condition = models.CharField(max_length=14, choices=Condition)
    price = models.DecimalField(max_digits=20, decimal_places=8)
    repeat = models.BooleanField(default=False)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    active = models.BooleanField(default=True)
    # The bid seen last time: "crosses" compares it with the new one.
    last_price = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(price__gt=0), name="alerts_price_positive")]
        indexes = [models.Index(fields=["account", "active"], name="alerts_price_account_active")]

    def __str__(self) -> str:
        return self.name or f"{self.symbol} {self.get_condition_display()} {self.price}"


class Alert(models.Model):
    """Something that happened, told to one trader (or, with no owner, to the operator)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind)
    title = models.CharField(max_length=200)
    text = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    # What raised it (e.g. "7:event:123"): unique, so a source read twice raises one alert;
    # NULL (no source) stays out of the unique constraint.
    source = models.CharField(max_length=120, unique=True, null=True, blank=True)
    # Identical alerts within ALERTS_COALESCE_S are counted on the first one instead.
    coalesce_key = models.CharField(max_length=160, blank=True)
    repeats = models.PositiveIntegerField(default=0)
    # Over the hourly cap: kept and shown in the app, not sent by email or webhook.
    suppressed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="alerts_alert_owner_created"),
            models.Index(fields=["owner", "coalesce_key", "-created_at"], name="alerts_alert_coalesce"),
        ]

    def __str__(self) -> str:
        return self.title


class Delivery(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"  # will be tried again at next_attempt_at
        GAVE_UP = "gave_up", "gave up"

    # Copied from the alert so that owned_by() needs no join; NULL for operator alerts.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    target = models.CharField(max_length=254)  # an address, or the endpoint's url_display
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="alerts_delivery_due"),
            models.Index(fields=["owner", "-created_at"], name="alerts_delivery_owner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.target}: {self.status}"


class Cursor(models.Model):
    """How far the dispatcher has read one source (the id of its last row surely seen)."""

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0)
    # The first row whose alert failed, and in how many runs in a row: the cursor waits
    # before it, and passes it over after dispatch.ROW_ATTEMPTS.
    failed_row = models.BigIntegerField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
