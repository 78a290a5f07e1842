"""Writes of the alerts app: endpoints, preferences, price alerts, raising alerts, deliveries."""

import logging
import random
import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mt5saas.crypto import decrypt, encrypt
from mt5saas.events import publish_to_user

from . import messages, net
from .models import DEFAULT_EMAIL_KINDS, TRADER_KINDS, Alert, Delivery, Endpoint, Kind, Preference, PriceAlert
from .queue import delivery_enqueue

log = logging.getLogger(__name__)
Status = Delivery.Status


class AlertsError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


# --- endpoints -----------------------------------------------------------------------


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def endpoint_url_check(url: str) -> None:
    """Refuse a URL that is not http(s), too long, or whose name resolves to a non-public
    address now (it is checked again at every send)."""
    try:
        net.checked_address(net.parse(url))
    except net.Refused as error:
        raise AlertsError(str(error), field="url") from None


def endpoint_create(*, owner, name: str, url: str, style: str) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret, which is returned this once only."""
    endpoint_url_check(url)
    if style not in Endpoint.Style.values:
        raise AlertsError("Choose a body style.", field="style")
    secret = _new_secret()
    endpoint = Endpoint.objects.create(
        owner=owner,
        name=name.strip()[:80] or net.url_display(url),
        url=encrypt(url),
        url_display=net.url_display(url),
        style=style,
        secret=encrypt(secret),
    )
    return endpoint, secret


def endpoint_rotate_secret(*, endpoint: Endpoint) -> str:
    secret = _new_secret()
    endpoint.secret = encrypt(secret)
    endpoint.save(update_fields=["secret"])
    return secret


def endpoint_toggle(*, endpoint: Endpoint) -> Endpoint:
    """Switch the endpoint off (it receives nothing) or back on."""
    endpoint.active = not endpoint.active
    endpoint.save(update_fields=["active"])
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    # Its log rows stay (endpoint SET_NULL); pending ones give up when they come due.
    endpoint.delete()


# --- preferences -------------------------------------------------------------------------


def preferences_save(*, owner, choices: dict[str, dict]) -> None:
    """choices: kind → {"in_app": bool, "email": bool, "endpoints": [ids]}; ids not the owner's
    are ignored (the form offers only the owner's)."""
    mine = set(Endpoint.objects.owned_by(owner).values_list("pk", flat=True))
    with transaction.atomic():
        for kind, choice in choices.items():
            if kind not in Kind.values or kind == Kind.SERVICE:
                continue
            channels = {"in_app": bool(choice.get("in_app")), "email": bool(choice.get("email"))}
            preference, _ = Preference.objects.update_or_create(owner=owner, kind=kind, defaults=channels)
            preference.endpoints.set([pk for pk in choice.get("endpoints", []) if pk in mine])


def has_address(email: str) -> bool:
    # .invalid never resolves (RFC 2606): the demo trader's address, worth no email.
    return bool(email) and not email.lower().endswith(".invalid")


def preferences_default(*, owner) -> None:
    """Give the owner the default channels (DEFAULT_EMAIL_KINDS) of each kind they have no
    row for; a row they have, chosen or not, is never changed."""
    email = has_address(owner.email)
    rows = [Preference(owner=owner, kind=kind, in_app=True, email=email and kind in DEFAULT_EMAIL_KINDS)
            for kind in TRADER_KINDS]  # fmt: skip
    Preference.objects.bulk_create(rows, ignore_conflicts=True)


def user_created(sender, instance, created: bool = False, raw: bool = False, **kwargs) -> None:
    """post_save of the user model: a new user (Google sign-in, createsuperuser, demo, the
    admin) starts with the default alerts."""
    if created and not raw:
        preferences_default(owner=instance)


def owners_with_preferences(owner_ids) -> set[int]:
    """Those of `owner_ids` who send at least one kind of alert somewhere."""
    enabled = Q(in_app=True) | Q(email=True) | Q(endpoints__isnull=False)
    return set(Preference.objects.filter(enabled, owner_id__in=list(owner_ids)).values_list("owner_id", flat=True))


# --- price alerts ------------------------------------------------------------------------


def price_alert_create(
    *, owner, account, symbol: str, condition: str, price, repeat: bool = False, cooldown_minutes=60, name: str = ""
) -> PriceAlert:
    """`account` must be one of the owner's (the caller picks it from owned_by())."""
    symbol = (symbol or "").strip()
    if not symbol or len(symbol) > 40:
        raise AlertsError("Enter the symbol as your broker names it.", field="symbol")
    if account.symbols and symbol not in account.symbols:
        raise AlertsError(f"{symbol} is not a symbol of account {account.login}.", field="symbol")
    if condition not in PriceAlert.Condition.values:
        raise AlertsError("Choose a condition.", field="condition")
    try:
        value = Decimal(str(price).strip())
    except (InvalidOperation, ValueError):
        raise AlertsError("Enter the price as a number, e.g. 2400.50.", field="price") from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e12") or value != round(value, 8):
        raise AlertsError("Enter a positive price with at most 8 decimals.", field="price")
    try:
        cooldown = int(str(cooldown_minutes).strip() or 0)
    except ValueError:
        raise AlertsError("Enter the cool-down in whole minutes.", field="cooldown_minutes") from None
    if not 1 <= cooldown <= 7 * 24 * 60:
        raise AlertsError("The cool-down is between 1 minute and 7 days.", field="cooldown_minutes")
    return PriceAlert.objects.create(
        owner=owner,
        account=account,
        symbol=symbol,
        condition=condition,
        price=value,
        repeat=bool(repeat),
        cooldown_minutes=cooldown,
        name=(name or "").strip()[:80],
    )


def price_alert_toggle(*, alert: PriceAlert) -> PriceAlert:
    """Pause the price alert (it is not checked) or resume it."""
    alert.active = not alert.active
    alert.save(update_fields=["active"])
    return alert


def price_alert_delete(*, alert: PriceAlert) -> None:
    alert.delete()


# --- raising alerts ------------------------------------------------------------------------


def _suppressed_since_last(owner_id: int) -> int:
    last = Alert.objects.filter(owner_id=owner_id, suppressed=False, deliveries__isnull=False).order_by("-pk").first()
    suppressed = Alert.objects.filter(owner_id=owner_id, suppressed=True)
    if last is not None:
        suppressed = suppressed.filter(pk__gt=last.pk)
    return suppressed.count()


def _over_hourly_cap(owner_id: int, now) -> bool:
    sent = Alert.objects.filter(
        owner_id=owner_id, suppressed=False, deliveries__isnull=False, created_at__gte=now - timedelta(hours=1)
    )
    return sent.distinct().count() >= settings.ALERTS_HOURLY_CAP


@transaction.atomic
def alert_raise(
    *, owner, kind: str, title: str, text: str, data: dict | None = None, source: str = "", coalesce_key: str = ""
) -> Alert | None:
    """Tell a trader (owner) or the operator (owner None) what happened, on the channels
    they chose. Returns the new alert, or None when nothing new was raised: the source was
    already raised, the trader wants this kind nowhere, or an identical alert within
    ALERTS_COALESCE_S was counted instead."""
    owner_id = getattr(owner, "pk", owner)
    preference = None
    if owner_id is not None:
        preference = Preference.objects.filter(owner_id=owner_id, kind=kind).first()
        if preference is None or not (preference.in_app or preference.email or preference.endpoints.exists()):
            return None
    now = timezone.now()
    if coalesce_key:
        window = now - timedelta(seconds=settings.ALERTS_COALESCE_S)
        recent = Alert.objects.filter(owner_id=owner_id, coalesce_key=coalesce_key, created_at__gte=window)
        if recent.update(repeats=F("repeats") + 1):
            return None
    suppressed = owner_id is not None and _over_hourly_cap(owner_id, now)
    if owner_id is not None and not suppressed and (n := _suppressed_since_last(owner_id)):
        text += f"\n\n{n} more alert(s) were suppressed by the hourly limit of {settings.ALERTS_HOURLY_CAP}."
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                owner_id=owner_id,
                kind=kind,
                title=messages.one_line(title, 200),
                text=text,
                data=data or {},
                source=source or None,
                coalesce_key=coalesce_key[:160],
                suppressed=suppressed,
                created_at=now,
            )
    except IntegrityError:
        return None  # this source was raised already (a second dispatcher run)
    if preference is not None and preference.in_app:
        event = {"id": alert.pk, "kind": kind, "title": alert.title, "text": alert.text, "message": alert.title}
        publish_to_user(owner_id, "alert", event)
    if not suppressed:
        _deliveries_create(alert, preference)
    return alert


def _deliveries_create(alert: Alert, preference: Preference | None) -> None:
    rows = []
    if preference is None:  # the operator: listed in the admin, emailed when ALERT_EMAIL is set
        if not settings.ALERT_EMAIL:
            return
        rows.append(Delivery(owner=None, alert=alert, channel=Delivery.Channel.EMAIL, target=settings.ALERT_EMAIL))
    else:
        if preference.email and (address := alert.owner.email):
            rows.append(Delivery(owner_id=alert.owner_id, alert=alert, channel=Delivery.Channel.EMAIL, target=address))
        for endpoint in preference.endpoints.filter(active=True):
            rows.append(
                Delivery(
                    owner_id=alert.owner_id,
                    alert=alert,
                    channel=Delivery.Channel.WEBHOOK,
                    endpoint=endpoint,
                    target=endpoint.url_display,
                )
            )
    created = Delivery.objects.bulk_create(rows)
    ids = [row.pk for row in created]
    transaction.on_commit(lambda: [delivery_enqueue(pk) for pk in ids])


def operator_alert(*, title: str, text: str, source: str = "", coalesce_key: str = "") -> Alert | None:
    """A service-level alert, listed in the admin and emailed to ALERT_EMAIL when it is set."""
    return alert_raise(owner=None, kind=Kind.SERVICE, title=title, text=text, source=source, coalesce_key=coalesce_key)


# --- deliveries ------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with ±20 % jitter, capped: 1, 4, 16, 40 minutes with the defaults."""
    base = min(settings.ALERTS_RETRY_CAP_S, settings.ALERTS_RETRY_BASE_S * 4 ** (attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


def _send(delivery: Delivery) -> None:
    alert = delivery.alert
    if delivery.channel == Delivery.Channel.EMAIL:
        message = EmailMessage(messages.email_subject(alert), messages.email_text(alert), to=[delivery.target])
        message.send()
        return
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.active:
        raise net.Refused("The endpoint was deleted or switched off.")
    body = messages.webhook_body(alert, endpoint.style)
    net.post(decrypt(endpoint.url), body, messages.webhook_headers(decrypt(endpoint.secret), body))


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """One attempt at a pending or failed delivery; None if it is not (another worker has it).
    A failure is retried later (ALERTS_MAX_ATTEMPTS in all); a refused target gives up at once."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=[Status.PENDING, Status.FAILED]).update(
        status=Status.SENDING, attempts=F("attempts") + 1, updated_at=now, next_attempt_at=None
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("alert__owner", "endpoint").get(pk=delivery_id)
    try:
        _send(delivery)
    except net.Refused as error:
        _finish(delivery, Status.GAVE_UP, f"Refused: {error}")
    except Exception as error:  # noqa: BLE001 - every failure is recorded and retried; the queue goes on
        reason = str(error) if isinstance(error, net.SendFailed) else f"{type(error).__name__}: {error}"
        if delivery.attempts >= settings.ALERTS_MAX_ATTEMPTS:
            _finish(delivery, Status.GAVE_UP, reason)
        else:
            _finish(delivery, Status.FAILED, reason, next_attempt_at=now + retry_delay(delivery.attempts))
    else:
        _finish(delivery, Status.SENT, "")
    return delivery


def _finish(delivery: Delivery, status: str, error: str, *, next_attempt_at=None) -> None:
    now = timezone.now()
    delivery.status, delivery.last_error, delivery.next_attempt_at = status, error[:300], next_attempt_at
    delivery.updated_at = now
    if status == Status.SENT:
        delivery.sent_at = now
    delivery.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at", "sent_at"])
    if status == Status.GAVE_UP:
        log.warning("alert delivery %s gave up after %s attempt(s): %s", delivery.pk, delivery.attempts, error)


def deliveries_retry_due() -> int:
    """Enqueue the deliveries whose next attempt is due, and those a dead worker left
    `sending`; returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ALERTS_WEBHOOK_TIMEOUT_S * 10 + 60)
    Delivery.objects.filter(status=Status.SENDING, updated_at__lt=stale).update(
        status=Status.FAILED, next_attempt_at=now, last_error="The worker sending it stopped.", updated_at=now
    )
    # Pending for minutes: its task was lost (a Redis broker drops a dead worker's task).
    lost = Q(status=Status.PENDING, created_at__lt=now - timedelta(minutes=2))
    due = Delivery.objects.filter(Q(status=Status.FAILED, next_attempt_at__lte=now) | lost)
    ids = list(due.values_list("pk", flat=True)[:500])
    for pk in ids:
        delivery_enqueue(pk)
    return len(ids)


def delivery_retry(*, delivery: Delivery) -> Delivery:
    """By hand: a failed or given-up delivery is tried once more now (a given-up one that
    fails again gives up again)."""
    if delivery.status not in (Status.FAILED, Status.GAVE_UP):
        raise AlertsError("Only a failed delivery can be retried.")
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED, next_attempt_at=timezone.now())
    delivery.refresh_from_db()
    transaction.on_commit(lambda: delivery_enqueue(delivery.pk))
    return delivery


# --- service-level events ---------------------------------------------------------------------

_agents_started: set[int] = set()


def agent_round_done(*, host, **kwargs) -> None:
    """The first round of a host agent in this process: the service started on that host."""
    if host.pk in _agents_started:
        return
    _agents_started.add(host.pk)
    operator_alert(
        title=f"mt5saas started on host {host.name}",
        text=f"The host agent of {host.name} (queue {host.queue_name}) started and is writing heartbeats.",
        coalesce_key=f"startup:{host.pk}",
    )
