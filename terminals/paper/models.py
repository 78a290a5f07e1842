"""The paper broker's state: accounts, open positions, pending orders and deals (app label `terminals`)."""

from decimal import Decimal

from django.db import models

from terminals.drivers.base import DealReason


class SimAccount(models.Model):
    server = models.CharField(max_length=100)
    login = models.BigIntegerField()
    password_hash = models.CharField(max_length=128)
    name = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=10, default="USD")
    leverage = models.PositiveIntegerField(default=100)
    balance = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("10000"))
    hedging = models.BooleanField(default=True)
    # Test and demo hook: retcodes that the next order_send calls answer, oldest first.
    inject_retcodes = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "login"], name="sim_account_unique")]

    def __str__(self) -> str:
        return f"{self.login}@{self.server}"


class SimPosition(models.Model):
    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40)
    type = models.PositiveSmallIntegerField()
    volume = models.DecimalField(max_digits=14, decimal_places=4)
    price_open = models.FloatField()
    sl = models.FloatField(default=0)
    tp = models.FloatField(default=0)
    magic = models.BigIntegerField(default=0)
    comment = models.CharField(max_length=31, blank=True)
    time_msc = models.BigIntegerField()

    def __str__(self) -> str:
        return f"position {self.pk}"


class SimOrder(models.Model):
    """A pending (limit/stop) order; tickets of market orders come from SimDeal.order."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="orders")
    symbol = models.CharField(max_length=40)
    type = models.PositiveSmallIntegerField()
    volume = models.DecimalField(max_digits=14, decimal_places=4)
    price_open = models.FloatField()
    sl = models.FloatField(default=0)
    tp = models.FloatField(default=0)
    magic = models.BigIntegerField(default=0)
    comment = models.CharField(max_length=31, blank=True)
    time_setup_msc = models.BigIntegerField()
    active = models.BooleanField(default=True)
    # ORDER_REASON_*, the same numbers as DEAL_REASON_*: who placed it (a program: our orders).
    reason = models.PositiveSmallIntegerField(default=DealReason.EXPERT)

    def __str__(self) -> str:
        return f"order {self.pk}"


class SimDeal(models.Model):
    """A deal as MT5's history_deals_get gives it: trades (type BUY, SELL) and money movements
    (BALANCE: symbol "", volume 0, the amount in profit). Money in the account's currency; the
    commission is charged on the deal, negative, as MT5 books it."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="deals")
    order = models.BigIntegerField()
    position_id = models.BigIntegerField()
    symbol = models.CharField(max_length=40)
    type = models.PositiveSmallIntegerField()
    entry = models.PositiveSmallIntegerField()
    volume = models.DecimalField(max_digits=14, decimal_places=4)
    price = models.FloatField()
    profit = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    magic = models.BigIntegerField(default=0)
    comment = models.CharField(max_length=31, blank=True)
    time_msc = models.BigIntegerField(db_index=True)
    reason = models.PositiveSmallIntegerField(default=DealReason.EXPERT)
    commission = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    swap = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    fee = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return f"deal {self.pk}"
