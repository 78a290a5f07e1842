"""Copy trading (docs/copy-trading.md): pairs of a master and a slave account, the master's trade
events, what each slave did with them, and the links from a master's order to the slave
positions it opened."""

from decimal import Decimal
from typing import Self

from django.db import models
from django.db.models import F, Q

from mt5saas.models import EncryptedField, OwnedModel, OwnedQuerySet

LOTS = {"max_digits": 14, "decimal_places": 4}
PRICE = {"max_digits": 20, "decimal_places": 8, "null": True, "blank": True}


class CopyPairQuerySet(OwnedQuerySet):
    def active(self) -> Self:
        return self.filter(active=True, master__deleted_at__isnull=True, slave__deleted_at__isnull=True)


class CopyPair(OwnedModel):
    class VolumeMode(models.TextChoices):
        FIXED = "fixed", "Fixed lot"
        MULTIPLY = "multiply", "Master volume times k"
        PERCENT = "percent", "Slave/master balance times master volume times k"

    master = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="copy_slaves")
    slave = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="copy_masters")
    volume_mode = models.CharField(max_length=8, choices=VolumeMode, default=VolumeMode.MULTIPLY)
    multiplier = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("1"))  # k
    fixed_volume = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.01"))
    copy_sl_tp = models.BooleanField(default=True)
    # Off: the master's symbol name is used as is (or the custom map); on: terminals.symbols rules.
    auto_symbol_map = models.BooleanField(default=True)
    # Master symbol → slave symbol, checked before the account's own SymbolMappings.
    symbol_map = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    # The master EA's key: a keyed digest for lookup and a Fernet copy so the owner can view
    # it again (as accounts.WebhookToken); rotating overwrites both, so the old key fails at once.
    key_digest = models.CharField(max_length=64, unique=True)
    key_ciphertext = EncryptedField()
    key_hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CopyPairQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(master=F("slave")), name="copypair_master_is_not_slave"),
            models.UniqueConstraint(fields=["master", "slave"], name="copypair_unique_master_slave"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="copypair_multiplier_positive"),
            models.CheckConstraint(condition=Q(fixed_volume__gt=0), name="copypair_fixed_volume_positive"),
        ]

    def __str__(self) -> str:
        return f"pair {self.pk}: {self.master_id} → {self.slave_id}"


class CopyEvent(OwnedModel):
    """One trade event of a master account, whichever pairs it reached."""

    class Kind(models.TextChoices):
        DEAL_ADD = "deal_add"
        DEAL_CLOSE = "deal_close"
        POSITION_MODIFY = "position_modify"

    class Status(models.TextChoices):
        PROCESSED = "processed"
        SKIPPED = "skipped"  # nothing to copy (no active pair, nothing opened to close)
        ERROR = "error"

    class Source(models.TextChoices):
        API = "api"  # POST /api/copy/trade (the master EA)
        WATCHER = "watcher"  # the host agent reading the master terminal's deals
        CASCADE = "cascade"  # a copy filled on a slave that is itself a master

    master = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="copy_events")
    kind = models.CharField(max_length=16, choices=Kind)
    source = models.CharField(max_length=8, choices=Source, default=Source.API)
    order_id = models.CharField(max_length=64)  # the master's order (position) id
    # Tells apart several closes or modifies of one order: the master's deal ticket, or what
    # the event itself says (the volume open before a close, the new SL/TP).
    sequence = models.CharField(max_length=80, blank=True)
    symbol = models.CharField(max_length=40, blank=True)
    side = models.CharField(max_length=4, blank=True)
    volume = models.DecimalField(**LOTS, null=True, blank=True)
    sl = models.DecimalField(**PRICE)
    tp = models.DecimalField(**PRICE)
    status = models.CharField(max_length=9, choices=Status, default=Status.PROCESSED)
    reason = models.CharField(max_length=300, blank=True)
    pairs_processed = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    hidden_at = models.DateTimeField(null=True, blank=True)  # "Clear" hides; the audit keeps it

    class Meta:
        constraints = [
            # The same event delivered twice (EA retry, watcher restart) copies once.
            models.UniqueConstraint(
                fields=["master", "kind", "order_id", "sequence"], name="copyevent_unique_master_event"
            ),
        ]
        indexes = [models.Index(fields=["owner", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id} on {self.master_id}"


class CopyExecution(OwnedModel):
    """What one slave did with one master event."""

    class Status(models.TextChoices):
        PENDING = "pending"  # its order is queued or being sent
        SUCCESS = "success"
        ERROR = "error"
        SKIPPED = "skipped"

    event = models.ForeignKey(CopyEvent, on_delete=models.CASCADE, related_name="executions")
    pair = models.ForeignKey(CopyPair, null=True, on_delete=models.SET_NULL, related_name="executions")
    slave = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    order = models.OneToOneField(
        "terminals.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="copy_execution"
    )
    master_volume = models.DecimalField(**LOTS, null=True, blank=True)
    # Before: what the pair's rule computes; after: what the slave's symbol allowed (step, min, max).
    volume_before = models.DecimalField(**LOTS, null=True, blank=True)
    volume_after = models.DecimalField(**LOTS, null=True, blank=True)
    symbol = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["event", "pair"])]

    def __str__(self) -> str:
        return f"execution {self.pk} {self.status}"

    @property
    def latency_ms(self) -> float | None:
        """Master event received to the slave order's final state."""
        if self.done_at is None:
            return None
        return round((self.done_at - self.created_at).total_seconds() * 1000, 1)


class CopyLink(OwnedModel):
    """A master's order and a slave position a pair opened for it: close and modify find
    the slave positions here, also after restarts."""

    pair = models.ForeignKey(CopyPair, on_delete=models.CASCADE, related_name="links")
    master_order_id = models.CharField(max_length=64)
    slave = models.ForeignKey("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    open_order = models.ForeignKey("terminals.Order", on_delete=models.CASCADE, related_name="+")
    slave_ticket = models.BigIntegerField(null=True, blank=True)  # once the open order filled
    master_volume = models.DecimalField(**LOTS)  # what the master has open of this order
    volume = models.DecimalField(**LOTS, null=True, blank=True)  # what the slave has open, once known
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A master order may link several positions of one slave: a netting master added to
        # its position and the hedging slave opened a second one. Each is opened by one order.
        constraints = [models.UniqueConstraint(fields=["open_order"], name="copylink_unique_open_order")]
        indexes = [models.Index(fields=["pair", "master_order_id"])]

    def __str__(self) -> str:
        return f"link {self.master_order_id} → {self.slave_ticket}"


class MasterCursor(OwnedModel):
    """How far the host-side watcher has read a master terminal's deals, the SL/TP it last
    saw on each open position (a change there leaves no deal), and reversed positions' legs."""

    account = models.OneToOneField("terminals.TradingAccount", on_delete=models.CASCADE, related_name="+")
    last_deal = models.BigIntegerField(default=0)  # MT5 deal tickets only grow
    read_at = models.DateTimeField()
    stops = models.JSONField(default=dict, blank=True)  # {"<order id>": [sl, tp]}
    # {"<position identifier>": "<order id>"}: the leg a netting reversal opened. MT5 keeps a
    # reversed position's identifier, which every later deal names; its new leg is copied as
    # a new master order (the old one closed), named after the reversing order.
    legs = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"cursor of {self.account_id} at deal {self.last_deal}"
