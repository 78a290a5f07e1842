"""Price alerts, checked against the quotes the host agent reads each round."""

import logging
from decimal import Decimal

from django.utils import timezone

from .models import Kind, PriceAlert
from .services import alert_raise

log = logging.getLogger(__name__)
Condition = PriceAlert.Condition


def _condition_met(alert: PriceAlert, previous: Decimal | None, price: Decimal) -> bool:
    if alert.condition == Condition.ABOVE:
        return price > alert.price
    if alert.condition == Condition.BELOW:
        return price < alert.price
    if previous is None:  # a cross needs a price on each side of the level
        return False
    if alert.condition == Condition.CROSSES_ABOVE:
        return previous <= alert.price < price
    return previous >= alert.price > price


def price_alerts_check(*, account, driver, this_round: dict, **kwargs) -> int:
    """terminals.signals.account_read receiver: one tick per symbol with an active alert on the
    account; returns how many alerts triggered. A repeating alert waits its cool-down, a
    one-off one is switched off when it triggers."""
    if "alerts.accounts" not in this_round:  # read once a round: most accounts have none
        this_round["alerts.accounts"] = set(
            PriceAlert.objects.filter(active=True).values_list("account_id", flat=True).distinct()
        )
    if account.pk not in this_round["alerts.accounts"]:
        return 0
    alerts = list(PriceAlert.objects.filter(account_id=account.pk, active=True))
    if not alerts:
        return 0
    now = timezone.now()
    ticks = {symbol: driver.tick(symbol) for symbol in {alert.symbol for alert in alerts}}
    triggered = 0
    for alert in alerts:
        tick = ticks.get(alert.symbol)
        if tick is None or not tick.bid:
            continue
        price = Decimal(str(tick.bid))
        previous, alert.last_price = alert.last_price, price
        since = (now - alert.triggered_at).total_seconds() if alert.triggered_at else None
        cooling = since is not None and since < alert.cooldown_minutes * 60
        fields = ["last_price"]
        if _condition_met(alert, previous, price) and not cooling:
            alert.triggered_at = now
            alert.active = alert.repeat
            fields += ["triggered_at", "active"]
            label = f"{alert.name}: " if alert.name else ""
            what = f"{alert.symbol} {alert.get_condition_display()} {alert.price.normalize()}"
            alert_raise(
                owner=alert.owner_id,
                kind=Kind.PRICE,
                title=f"Price alert {label}{what}",
                text=f"{label}{what} on account {account.login}: bid {price.normalize()}, ask {tick.ask}.\n"
                + ("It triggers again after its cool-down." if alert.repeat else "It is now switched off."),
                data={"price_alert": alert.pk, "symbol": alert.symbol, "bid": str(price), "ask": str(tick.ask)},
            )
            triggered += 1
        alert.save(update_fields=fields)
    return triggered
