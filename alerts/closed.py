"""Alerts of positions the terminal closed itself: by stop loss, by take profit, by a stop-out.

journal.signals.trades_closed calls trades_closed inside the transaction that stores the deals:
it raises nothing (a failing alert is logged and undone alone) and reads the preferences of
the whole batch in one query. A trade's alert has the trade as its source, so a trade told
twice raises one alert; a stop-out, which closes several positions at once, raises one alert
per account and batch."""

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from journal.models import Deal, Trade
from mt5saas.display import lots_text, price_text
from terminals.models import TradingAccount

from . import selectors
from .models import Kind
from .services import alert_raise

log = logging.getLogger(__name__)

REASON_KINDS = {Deal.Reason.SL: Kind.CLOSED_SL, Deal.Reason.TP: Kind.CLOSED_TP, Deal.Reason.SO: Kind.STOP_OUT}
# A close older than this when the journal first stores it is history (an account's first read, a
# long outage), not news: no alert for it, or a first read of 90 days would raise thousands.
NEWS_FOR = timedelta(hours=1)
BY = {Kind.CLOSED_SL: "its stop loss", Kind.CLOSED_TP: "its take profit"}


def trades_closed(sender, *, trades: list[Trade], **kwargs) -> None:
    """journal.signals.trades_closed: an alert for each trade closed by SL or TP, one for each
    account's stop-out."""
    try:
        _trades_closed(trades)
    except Exception:  # the deals must be stored whatever an alert does
        log.exception("alerts of %s closed trade(s) failed", len(trades))


def _trades_closed(trades: list[Trade]) -> None:
    since = timezone.now() - NEWS_FOR
    closed = [
        (trade, REASON_KINDS[trade.close_reason])
        for trade in trades
        if trade.close_reason in REASON_KINDS and trade.close_time is not None and trade.close_time >= since
    ]
    if not closed:
        return
    wanted = selectors.preferences_enabled(
        owner_ids={trade.owner_id for trade, _ in closed}, kinds={kind for _, kind in closed}
    )
    closed = [(trade, kind) for trade, kind in closed if (trade.owner_id, kind) in wanted]
    if not closed:
        return
    logins = dict(TradingAccount.objects.filter(pk__in={t.account_id for t, _ in closed}).values_list("pk", "login"))
    stop_outs: dict[int, list[Trade]] = defaultdict(list)
    for trade, kind in closed:
        if kind == Kind.STOP_OUT:
            stop_outs[trade.account_id].append(trade)
        else:
            _raise_safely(trade.pk, lambda t=trade, k=kind: _closed_alert(t, k, logins.get(t.account_id, "")))
    for account_id, lost in stop_outs.items():
        _raise_safely(lost[0].pk, lambda a=account_id, ts=lost: _stop_out_alert(ts, logins.get(a, "")))


def _raise_safely(trade_id: int, raise_alert) -> None:
    try:
        with transaction.atomic():  # a failure undoes this alert only
            raise_alert()
    except Exception:
        log.exception("the alert of closed trade %s failed", trade_id)


def position_text(trade: Trade) -> str:
    """'EURUSD buy 0.1 lots, opened at 1.085, closed at 1.083: -20.00 USD'."""
    return (
        f"{trade.symbol} {trade.side} {lots_text(trade.volume)} lots, opened at {price_text(trade.open_price)}, "
        f"closed at {price_text(trade.close_price)}: {trade.profit:+.2f} {trade.currency}".rstrip()
    )


def _data(trade: Trade) -> dict:
    return {
        "trade": trade.pk, "account": trade.account_id, "position": trade.position, "symbol": trade.symbol,
        "side": trade.side, "volume": str(trade.volume), "close_price": str(trade.close_price),
        "profit": str(trade.profit), "currency": trade.currency, "close_reason": trade.close_reason,
    }  # fmt: skip


def _closed_alert(trade: Trade, kind: str, login: str) -> None:
    by = "stop loss" if kind == Kind.CLOSED_SL else "take profit"
    alert_raise(
        owner=trade.owner_id,
        kind=kind,
        title=f"{trade.symbol} {trade.side} closed by {by} on {login}: {trade.profit:+.2f} {trade.currency}",
        text=f"Position {trade.position} on account {login} was closed by {BY[kind]}.\n"
        f"{position_text(trade)} (net of commission and swap).",
        data=_data(trade),
        source=f"{trade.owner_id}:trade:{trade.pk}",
    )


def _stop_out_alert(trades: list[Trade], login: str) -> None:
    first = trades[0]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for trade in trades:
        totals[trade.currency] += trade.profit
    loss = ", ".join(f"{total:+.2f} {currency}" for currency, total in totals.items())
    lines = "\n".join(f"  {position_text(trade)}" for trade in trades)
    alert_raise(
        owner=first.owner_id,
        kind=Kind.STOP_OUT,
        title=f"Stop-out on {login}: {len(trades)} position(s) closed, {loss}",
        text=f"The broker closed {len(trades)} position(s) on account {login}: its margin level fell to the "
        f"stop-out level.\n{lines}\nCheck the account's balance and margin before trading again.",
        data={"account": first.account_id, "trades": [_data(trade) for trade in trades]},
        source=f"{first.owner_id}:trade:{first.pk}",
    )
