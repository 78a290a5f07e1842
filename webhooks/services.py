"""Signals in: validate, pick the target accounts, map symbols, store and queue (docs/webhook.md).

The reply comes before any terminal is touched: orders are queued, and each account's
drain executes them (terminals.orders).
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from mt5saas.events import publish_many, publish_to_user
from terminals.errors import SymbolError
from terminals.models import Order, TradingAccount
from terminals.selectors import account_current, intake_accounts, mapping_of, order_event
from terminals.services import order_history_clear, orders_enqueue, queued_stamp, symbol_resolve

from .answers import Answer, error_answer
from .errors import SignalBusy, SignalRefused
from .models import Signal
from .payload import SignalRequest, parse_signal
from .refused import refused_body, refused_prune

IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SignalAccepted:
    """A stored signal and its orders, all queued when it was accepted."""

    signal_id: int
    orders: list[tuple[int, int]]  # (order id, account id)
    ignored_fields: tuple[str, ...] = ()


def _targets(user, request: SignalRequest, *, current_account: bool) -> list[TradingAccount]:
    if not request.accounts and current_account:
        return _current_target(user, request)
    if not request.accounts:
        if not (everyone := intake_accounts(owner_id=user.pk, requested=request.symbol)):
            raise SignalRefused(
                "You have no trading accounts to send this signal to. Add one on the Accounts page.",
                {"accounts": ["No trading account is available."]},
            )
        return everyone
    # Only the named accounts are read: a trader with a hundred accounts pays for one.
    named = intake_accounts(owner_id=user.pk, requested=request.symbol, references=request.accounts)
    by_login = {a.login: a for a in named}
    by_id = {str(a.pk): a for a in named}
    chosen, unknown = [], []
    for reference in request.accounts:
        # Another trader's account reads exactly like a missing one.
        account = by_login.get(reference) or by_id.get(reference)
        if account is None:
            unknown.append(reference)
        elif account not in chosen:
            chosen.append(account)
    if unknown:
        listed = ", ".join(unknown[:5])
        raise SignalRefused(
            "Unknown accounts in the signal.", {request.accounts_field: [f"Not one of your active accounts: {listed}."]}
        )
    return chosen


def _current_target(user, request: SignalRequest) -> list[TradingAccount]:
    """The caller's current account (POST /api/v1/accounts/<id>/switch), alone."""
    current = account_current(user=user)
    if current is None:
        raise SignalRefused(
            "You have no trading accounts to send this order to. Add one on the Accounts page.",
            {"accounts": ["No trading account is available."]},
        )
    if not (chosen := intake_accounts(owner_id=user.pk, requested=request.symbol, references=(str(current.pk),))):
        raise SignalRefused(
            "Your current account is stopped: start it, switch to another, or name accounts in the order.",
            {"accounts": [f"Your current account {current.login} is stopped."]},
        )
    return chosen


def _mapped_symbols(request: SignalRequest, accounts: list[TradingAccount]) -> dict[int, str]:
    """Each account's name for the symbol, from the names its terminal last reported;
    an account whose names are not known yet is mapped when its order executes."""
    if not request.symbol:
        return {}
    mapped, errors = {}, []
    for account in accounts:
        if not account.symbols:
            continue
        try:
            mapped[account.pk] = symbol_resolve(
                account=account, requested=request.symbol, available=account.symbols, mapping=mapping_of(account)
            )
        except SymbolError as error:
            errors.append(f"Account {account.login}: {error}")
    if errors:
        raise SignalRefused("The symbol cannot be traded on every target account.", {"symbol": errors})
    return mapped


def _check_limits(request: SignalRequest, accounts: list[TradingAccount]) -> None:
    if request.volume is None:
        return
    over = [a.login for a in accounts if a.max_lot is not None and request.volume > a.max_lot]
    if over:
        raise SignalRefused(
            "The volume is over an account's maximum lot.",
            {"volume": [f"{request.volume} lots is over the maximum lot of account(s) {', '.join(over)}."]},
        )


def _order(
    request: SignalRequest, account: TradingAccount, signal: Signal, symbol: str, source: str, queued: datetime | None
) -> Order:
    return Order(
        created_at=signal.received_at,
        queued_at=queued,
        owner_id=account.owner_id,
        account=account,
        signal=signal,
        source=source,
        action=request.kind,
        side=request.side or "",
        order_type=request.order_type,
        requested_symbol=request.symbol,
        symbol=symbol,
        volume=request.volume,
        risk_percent=request.risk,
        price=request.price,
        sl=request.stop_loss,
        tp=request.take_profit,
        sl_pips=request.sl_pips,
        tp_pips=request.tp_pips,
        position_ticket=request.ticket,
        comment=request.comment,
    )


def _jsonable(request: SignalRequest) -> dict:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(request).items()}


def _first_outcome(user, key: str | None) -> SignalAccepted | None:
    """What the first signal with this id got, while the id repeats (None: no such signal):
    accepted, rebuilt from its rows (every order was queued then), which spares the webhook's
    path a second write; or refused again, as its kept reply says."""
    if key is None:
        return None
    first = Signal.objects.owned_by(user).filter(idempotency_key=key).first()
    if first is None:
        return None
    if first.received_at < timezone.now() - IDEMPOTENCY_WINDOW:
        # An id is a repeat for 24 hours; after that it names a new alert.
        Signal.objects.filter(pk=first.pk).update(idempotency_key=None)
        return None
    if first.response:
        kept = first.response["body"]
        raise SignalRefused(kept["detail"], kept["errors"])
    orders = list(first.orders.order_by("pk").values_list("pk", "account_id"))
    return SignalAccepted(first.pk, orders, tuple(first.payload.get("ignored_fields") or ()))


def signal_receive(
    *, user, data: dict, source: str = Signal.Source.WEBHOOK, current_account: bool = False
) -> SignalAccepted:
    """Turn a parsed body into a stored signal and queued orders.

    A body that names no account goes to every account of the user, or with `current_account`
    (the orders API) to the user's current account only. Raises SignalRefused (the refused alert
    is kept for the history) or SignalBusy.

    Idempotent by the body's "id": a repeat gets the first outcome and places nothing,
    also when two arrive at once (the unique key decides which one stores the signal).
    """
    key = data.get("id") if isinstance(data.get("id"), str) else None
    if (repeated := _first_outcome(user, key)) is not None:
        return repeated
    try:
        request = parse_signal(data)
        accounts = _targets(user, request, current_account=current_account)
        symbols = _mapped_symbols(request, accounts)
        _check_limits(request, accounts)
    except SignalRefused as refusal:
        # An unusable key is not stored: its own error is in the refusal.
        kept_key = key if key is not None and len(key) <= 200 else None
        first = signal_refuse(
            user=user, source=source, refusal=refusal, answer=error_answer(refusal), payload=refused_body(data),
            key=kept_key, action=data.get("action", ""), symbol=data.get("symbol", ""),
        )  # fmt: skip
        if first is not None:
            return first
        raise
    try:
        return _accept(user, request, accounts, symbols, source)
    except IntegrityError:
        # The same key committed by a concurrent request a moment ago: its outcome wins.
        if (first := _first_outcome(user, request.idempotency_key)) is not None:
            return first
        raise SignalBusy("A signal with this id is being placed.") from None


def _accept(
    user, request: SignalRequest, accounts: list[TradingAccount], symbols: dict[int, str], source: str
) -> SignalAccepted:
    with transaction.atomic():
        signal = Signal.objects.create(
            owner=user,
            source=source,
            idempotency_key=request.idempotency_key,
            action=request.kind,
            symbol=request.symbol,
            payload=_jsonable(request),
        )
        orders = Order.objects.bulk_create(
            [
                _order(request, account, signal, symbols.get(account.pk, ""), source, queued_stamp())
                for account in accounts
            ]
        )
        accepted = SignalAccepted(
            signal.pk, [(order.pk, order.account_id) for order in orders], request.ignored_fields
        )
        orders_enqueue(orders=orders)
        publish_many(
            user.pk,
            [("signal", {"id": signal.pk, "action": signal.action, "symbol": signal.symbol})]
            + [("order", order_event(order)) for order in orders],
        )
    return accepted


def signal_refuse(
    *, user, source: str, refusal: SignalRefused, answer: Answer, payload: dict, key: str | None = None,
    action: object = "", symbol: object = "",
) -> SignalAccepted | None:  # fmt: skip
    """Keep a refused alert for the trader's history and the Alerts app, with the `answer`
    (status, body) its request got. `payload` is what refused_body/refused_text kept of it.
    Only the owner's newest REFUSED_KEEP are kept. When a concurrent request stored the same
    key first, its outcome: accepted is returned, refused is raised."""
    status, body = answer
    try:
        with transaction.atomic():
            signal = Signal.objects.create(
                owner=user,
                source=source,
                status=Signal.Status.REFUSED,
                idempotency_key=key,
                action=str(action)[:16],
                symbol=str(symbol)[:40],
                payload=payload,
                errors=refusal.errors,
                response={"status": status, "body": body},
            )
            refused_prune(owner_id=user.pk)
            # On the trader's live page at once, and the Alerts app's dispatcher is kicked by it.
            event = {"id": signal.pk, "action": signal.action, "symbol": signal.symbol, "status": signal.status,
                     "errors": refusal.errors}  # fmt: skip
            publish_many(user.pk, [("signal", event)])
    except IntegrityError:
        return _first_outcome(user, key)
    return None


def history_hide(*, user) -> tuple[int, int]:
    """Clear the trader's history page: every order and refused alert shown is hidden (the rows
    stay for the audit). Returns how many orders and refused alerts were hidden."""
    orders = order_history_clear(user=user, filters={})
    refused = Signal.objects.owned_by(user).filter(status=Signal.Status.REFUSED, hidden_at__isnull=True)
    return orders, refused.update(hidden_at=timezone.now())


def signal_outcomes_record(sender, *, orders: list[Order], **kwargs) -> None:
    """terminals.signals.orders_finished and placed_orders_ended: a signal none of whose orders
    filled is marked so (the Alerts app tells the trader). Inside the transaction that records
    the orders' states."""
    for signal_id in dict.fromkeys(order.signal_id for order in orders if order.signal_id is not None):
        _signal_outcome_record(next(order for order in orders if order.signal_id == signal_id))


def _signal_outcome_record(order: Order) -> None:
    siblings = Order.objects.filter(signal_id=order.signal_id)
    if siblings.exclude(status__in=Order.FINAL).exists() or siblings.filter(status=Order.Status.FILLED).exists():
        return
    if Signal.objects.filter(pk=order.signal_id, status=Signal.Status.ACCEPTED).update(status=Signal.Status.UNFILLED):
        publish_to_user(order.owner_id, "signal", {"id": order.signal_id, "status": Signal.Status.UNFILLED})
