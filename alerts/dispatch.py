"""Turns what the other apps record into alerts, off every request and order path.

A django-q2 task reads each source past a cursor: the live events (order outcomes, copy
errors), the accounts' status transitions, refused signals, and the hosts. It runs every
minute from a schedule and, within about a second, whenever a process publishes an event
for a trader who has alert preferences (alerts.wakeup). Ids are handed out before commit, so
a row with a smaller id can become visible after a larger one: the cursor only moves past
rows older than ALERTS_DISPATCH_GRACE_S, the rows after it are read again next time, and
an alert's unique `source` makes reading a row twice raise it once.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from journal.services import AccountResult, period_result, totals_by_currency
from mt5saas.display import lots_text
from terminals.models import Order
from terminals.selectors import retcode_text

from . import selectors
from .models import Cursor, Kind
from .services import alert_raise, deliveries_retry_due, operator_alert, owners_with_preferences

log = logging.getLogger(__name__)

BATCH = 500
# A row whose alert fails in this many runs in a row is passed over and the operator told:
# one bad row may delay the rows after it (any trader's), never stop them for good.
ROW_ATTEMPTS = 5


def _run_every_step(steps: list[Callable[[], int]]) -> int:
    """Run every step even when one before it fails; the sum of their counts, or, once all
    have run, the first failure raised."""
    total, failure = 0, None
    for step in steps:
        try:
            total += step()
        except Exception as error:  # raised below, after the other steps
            log.exception("alerts: %s failed", getattr(step, "__name__", step))
            failure = failure or error
    if failure is not None:
        raise failure
    return total


def _alert_each_row(rows, alert_for: Callable) -> tuple[int, dict[int, str]]:
    """alert_for(row) for each row on its own: a row that raises is rolled back, logged and
    returned among the failed (id → the error's class), and the rows after it go on."""
    raised, failed = 0, {}
    for row in rows:
        try:
            with transaction.atomic():
                raised += alert_for(row) is not None
        except Exception as error:  # read again next run; the others must not wait
            log.exception("alerts: %s row %s raised no alert", type(row).__name__, row.pk)
            failed[row.pk] = type(error).__name__
    return raised, failed


def _still_failing(cursor: Cursor, failed: dict[int, str]) -> set[int]:
    """The failed rows the cursor waits before; the first one is passed over (the operator
    told) once it has failed ROW_ATTEMPTS runs in a row."""
    if not failed:
        if cursor.failed_row is not None:
            Cursor.objects.filter(name=cursor.name).update(failed_row=None, failures=0)
        return set()
    first = min(failed)
    failures = cursor.failures + 1 if cursor.failed_row == first else 1
    if failures < ROW_ATTEMPTS:
        Cursor.objects.filter(name=cursor.name).update(failed_row=first, failures=failures)
        return set(failed)
    operator_alert(
        title=f"An alert was lost: {cursor.name} row {first}",
        text=f"Raising the alert of {cursor.name} row {first} failed in {failures} runs in a row "
        f"({failed[first]}); the dispatcher went on without it. The log (alerts.dispatch) has the traceback.",
        source=f"op:lost:{cursor.name}:{first}",
    )
    Cursor.objects.filter(name=cursor.name).update(failed_row=None, failures=0)
    return set(failed) - {first}


def _raise_past_cursor(name: str, rows_after: Callable[..., list], stamp: str, alerts: Callable,
                       horizon_id: Callable[..., int] | None = None) -> int:  # fmt: skip
    """Raise the alerts of one source's rows past its cursor; returns how many.

    Then the cursor moves past the leading rows that are handled and older than the grace
    period (nothing with a smaller id can still commit before them). A row that failed stops
    it: that row and those after it are read again next run (an alert raised already is not
    raised twice). `horizon_id` lets it move past rows the source filtered out, too (the live
    events that are no alert), so that they are not scanned again.
    """
    cursor, _ = Cursor.objects.get_or_create(name=name)
    rows = rows_after(since=cursor.position, limit=BATCH)
    raised, failed = alerts(rows)
    failing = _still_failing(cursor, failed)
    horizon = timezone.now() - timedelta(seconds=settings.ALERTS_DISPATCH_GRACE_S)
    waiting = [row.pk for row in rows if getattr(row, stamp) >= horizon or row.pk in failing]
    position = max([cursor.position, *(row.pk for row in rows if not waiting or row.pk < waiting[0])])
    if horizon_id is not None and len(rows) < BATCH:
        position = max(position, min([horizon_id(since=cursor.position, before=horizon), *(pk - 1 for pk in waiting)]))
    if position > cursor.position:
        Cursor.objects.filter(name=name, position__lt=position).update(position=position)
    return raised


def _account_label(account) -> str:
    return f"{account.nickname} ({account.login})" if account.nickname else str(account.login)


def _not_yet_raised(rows, source: Callable) -> list:
    """The rows that have not raised their alert yet (a row is read again within the grace period)."""
    raised = selectors.raised_sources(source(row) for row in rows)
    return [row for row in rows if source(row) not in raised]


def _order_description(order: Order) -> str:
    """What an order does, from whatever of it is set: "BUY 0.1 EURUSD", "CLOSE EURUSD",
    "CLOSE 50% of position 7 GOLD", "CLOSE ALL" (a close has no volume of its own)."""
    if order.action == Order.Action.OPEN:
        parts = [order.side.upper() or "OPEN"]
    elif order.action == Order.Action.CLOSE_ALL:
        parts = ["CLOSE ALL"]
    elif order.action == Order.Action.MODIFY_SLTP:
        parts = ["MODIFY SL/TP of"]
    else:
        parts = ["CLOSE", order.side.upper()]
    if order.volume is not None:
        parts.append(lots_text(order.volume))
    elif order.close_fraction is not None:
        parts.append(f"{float(order.close_fraction):.0%} of")
    elif order.risk_percent is not None:
        parts.append(f"{lots_text(order.risk_percent)}% risk of")
    if order.position_ticket is not None:
        parts.append(f"position {order.position_ticket}")
    parts.append(order.symbol or order.requested_symbol)
    return " ".join(part for part in parts if part)


def _order_alerts(rows) -> tuple[int, dict[int, str]]:
    owners = owners_with_preferences({row.owner_id for row in rows})
    wanted = [row for row in rows if row.owner_id in owners]
    rows = _not_yet_raised(wanted, lambda row: f"{row.owner_id}:event:{row.pk}")
    ids = [row.payload.get("id") for row in rows if row.kind == "order" and isinstance(row.payload, dict)]
    orders = selectors.orders_by_id(pk for pk in ids if isinstance(pk, int))

    def alert_for(row):
        return _copy_alert(row) if row.kind == "copy_event" else _order_alert(row, orders)

    return _alert_each_row(rows, alert_for)


def _order_alert(row, orders: dict):
    payload = row.payload
    order = orders.get(payload.get("id"))
    status = payload.get("status")
    if order is None or status not in ("filled", "rejected", "failed"):
        return None
    what = _order_description(order)
    where = f"account {_account_label(order.account)}"
    data = {"order": order.pk, "account": order.account_id, "status": status, "source": order.source}
    if status == "filled":
        price = f" at {payload['fill_price']}" if payload.get("fill_price") else ""
        ticket = f" (ticket {payload['ticket']})" if payload.get("ticket") else ""
        return alert_raise(owner=row.owner_id, kind=Kind.ORDER_FILLED, title=f"Order filled: {what} on {where}",
                           text=f"{what} filled{price} on {where}{ticket}.", data=data,
                           source=f"{row.owner_id}:event:{row.pk}")  # fmt: skip
    reason = str(payload.get("reason") or retcode_text(payload.get("retcode")) or "no reason given")
    text = (
        f"{what} was {status} on {where}: {reason}.\n"
        "Check the symbol, the volume and the account's risk limits on the Accounts page, "
        "and that the terminal is online; the History page has every order."
    )
    return alert_raise(owner=row.owner_id, kind=Kind.ORDER_FAILED, title=f"Order {status}: {what} on {where}",
                       text=text, data=data, source=f"{row.owner_id}:event:{row.pk}",
                       coalesce_key=f"order_failed:{order.account_id}:{reason[:80]}")  # fmt: skip


def _copy_alert(row):
    payload = row.payload
    if payload.get("status") != "error":
        return None
    executions = [e for e in payload.get("executions") or [] if isinstance(e, dict) and e.get("status") == "error"]
    errors = [e.get("error") or e.get("reason") for e in executions]
    reason = "; ".join(str(e) for e in errors if e) or payload.get("reason") or "see Copy trading history"
    event, master_order = payload.get("event") or "trade event", payload.get("order_id")
    title = f"Copy trade failed: {event} {payload.get('symbol') or ''} (master order {master_order})"
    text = (
        f"A {event} of master order {master_order} was not copied: {reason}.\n"
        "Check the pair's symbol map and volume rule, and that the slave accounts are online (Copy trading page)."
    )
    return alert_raise(owner=row.owner_id, kind=Kind.COPY_ERROR, title=title, text=text,
                       data={"copy_event": payload.get("id")}, source=f"{row.owner_id}:event:{row.pk}",
                       coalesce_key=f"copy_error:{payload.get('master')}:{reason[:80]}")  # fmt: skip


def _account_alerts(rows) -> tuple[int, dict[int, str]]:
    owners = owners_with_preferences({row.owner_id for row in rows})
    wanted = [row for row in rows if row.owner_id in owners]
    rows = _not_yet_raised(wanted, lambda row: f"{row.owner_id}:account:{row.pk}")
    return _alert_each_row([row for row in rows if row.status in ("online", "offline", "error")], _account_alert)


def _account_alert(row):
    where = f"Account {_account_label(row.account)} ({row.account.server})"
    if row.status == "online":
        title, text = f"{where} is online", f"{where} is connected again and takes orders."
    else:
        reason = row.reason or "the terminal stopped answering"
        title = f"{where} is {row.status}"
        advice = (
            "Check the password and server on the Accounts page; the account takes no orders until fixed."
            if row.status == "error"
            else "Orders for it wait or fail until it is back; it is retried automatically."
        )
        text = f"{where} went {row.status}: {reason}.\n{advice}"
    return alert_raise(owner=row.owner_id, kind=Kind.ACCOUNT_STATUS, title=title, text=text,
                       data={"account": row.account_id, "status": row.status},
                       source=f"{row.owner_id}:account:{row.pk}",
                       coalesce_key=f"account:{row.account_id}:{row.status}")  # fmt: skip


def _signal_alerts(rows) -> tuple[int, dict[int, str]]:
    rejected = [row for row in rows if row.status == "refused"]
    owners = owners_with_preferences({row.owner_id for row in rejected})
    wanted = [row for row in rejected if row.owner_id in owners]
    return _alert_each_row(_not_yet_raised(wanted, lambda row: f"{row.owner_id}:signal:{row.pk}"), _signal_alert)


def _signal_alert(row):
    errors = row.errors if isinstance(row.errors, dict) else {"body": row.errors} if row.errors else {}
    problems = "; ".join(f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                         for field, msgs in errors.items())  # fmt: skip
    digest = hashlib.sha256(json.dumps(row.errors, sort_keys=True, default=str).encode()).hexdigest()[:16]
    title = f"Signal refused: {row.action or '?'} {row.symbol or ''}".strip()
    text = (
        f"A {row.source} signal ({row.action or 'no action'} {row.symbol or ''}) was refused and placed nothing: "
        f"{problems or 'invalid body'}.\nFix the alert message in TradingView (the dashboard builds a valid one)."
    )
    return alert_raise(owner=row.owner_id, kind=Kind.SIGNAL_REJECTED, title=title, text=text,
                       data={"signal": row.pk, "errors": row.errors}, source=f"{row.owner_id}:signal:{row.pk}",
                       coalesce_key=f"signal_rejected:{digest}")  # fmt: skip


def _host_alerts() -> int:
    hosts = selectors.offline_hosts(since=timezone.now() - timedelta(days=1))
    return _run_every_step([lambda host=host: _host_alert(host) for host in hosts])


def _host_alert(host) -> int:
    outage = f"host:{host.pk}:{int(host.heartbeat_at.timestamp())}"
    if selectors.raised_sources([f"op:{outage}"]):
        return 0  # told already (the operator's alert is raised first, the traders' with it)
    last = host.heartbeat_at.strftime("%Y-%m-%d %H:%M UTC")
    raised = 0
    with transaction.atomic():  # the operator's alert marks the outage told: with the traders' or not at all
        raised += (
            operator_alert(
                title=f"Host {host.name} is offline",
                text=f"Host {host.name} (queue {host.queue_name}) has written no heartbeat since {last}. "
                "Its accounts are offline and their orders wait: check its qcluster and host_agent services.",
                source=f"op:{outage}",
            )
            is not None
        )
        owners = selectors.host_owner_ids(host=host)
        for owner_id in owners_with_preferences(owners):
            logins = ", ".join(owners[owner_id])
            raised += alert_raise(owner=owner_id, kind=Kind.HOST_OFFLINE,
                                  title=f"The server of your account(s) {logins} is offline",
                                  text=f"The host running account(s) {logins} stopped answering at {last}. "
                                  "Their orders wait until it is back; the operator has been told.",
                                  data={"host": host.pk}, source=f"{owner_id}:{outage}") is not None  # fmt: skip
    return raised


def _error_rate_alert() -> int:
    minutes = settings.ALERTS_ERROR_WINDOW_MIN
    total, bad = selectors.order_outcomes(since=timezone.now() - timedelta(minutes=minutes))
    if total < settings.ALERTS_ERROR_MIN_ORDERS or bad / total < settings.ALERTS_ERROR_RATE:
        return 0
    alert = operator_alert(
        title=f"Error-rate spike: {bad} of {total} orders failed in {minutes} min",
        text=f"{bad} of the last {total} finished orders ({bad / total:.0%}) were rejected or failed within "
        f"{minutes} minutes. Check the hosts, the terminals and the admin's order list for a common reason.",
        coalesce_key="error-rate",
    )
    return alert is not None


def dispatch() -> int:
    """Raise the alerts of everything recorded since the last run; returns how many."""
    events, accounts, signals = selectors.events_after, selectors.account_events_after, selectors.rejected_signals_after
    return _run_every_step([
        lambda: _raise_past_cursor("event", events, "created_at", _order_alerts, selectors.event_horizon_id),
        lambda: _raise_past_cursor("account_event", accounts, "created_at", _account_alerts),
        lambda: _raise_past_cursor("signal", signals, "received_at", _signal_alerts),
    ])  # fmt: skip


def service_checks() -> int:
    """Hosts offline and the error rate: once a minute (the schedule), not on every wake-up."""
    return _run_every_step([_host_alerts, _error_rate_alert])


def every_minute() -> int:
    """The minute schedule: the dispatcher's catch-up, the service checks and the deliveries
    due for a retry; each runs even when one before it fails."""
    return _run_every_step([dispatch, service_checks, deliveries_retry_due])


def daily_summaries() -> int:
    """One summary of the last 24 hours for each trader who wants it; a second run the same
    day raises nothing."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    owner_ids = selectors.summary_owner_ids()
    owners = get_user_model().objects.in_bulk(owner_ids)
    raised = 0
    for owner_id in owner_ids:
        f = selectors.daily_figures(owner_id=owner_id, since=since)
        results = period_result(user=owners.get(owner_id), since=since, until=now)
        accounts = "\n".join(
            f"  {a['login']}: {a['status']}, balance {a['balance']} {a['currency']}, equity {a['equity']}"
            for a in f["accounts"]
        )
        text = (
            f"Last 24 hours: {f['signals']} signal(s) received, {f['signals_rejected']} refused; "
            f"{f['filled']} order(s) filled, {f['failed']} rejected or failed; {f['copy_errors']} copy error(s).\n"
            f"{_pnl_text(results)}\nAccounts:\n{accounts or '  none'}"
        )
        data = {k: v for k, v in f.items() if k != "accounts"}
        data["pnl"] = {currency: str(total) for currency, total in totals_by_currency(results).items()}
        title, source = f"Daily summary {now:%Y-%m-%d}", f"{owner_id}:summary:{now:%Y-%m-%d}"
        alert = alert_raise(owner=owner_id, kind=Kind.DAILY_SUMMARY, title=title, text=text, data=data, source=source)
        raised += alert is not None
    return raised


def _pnl_text(results: list[AccountResult]) -> str:
    """The realised P&L lines of the summary: per account, then a total per currency."""
    if not results:
        return "Realised P&L: no trading deals."
    lines = [f"  {r.login}: {r.profit:+.2f} {r.currency}, {r.trades} trade(s) closed" for r in results]
    totals = ", ".join(f"{total:+.2f} {currency}" for currency, total in totals_by_currency(results).items())
    return "Realised P&L (net of commission, swap and fees):\n" + "\n".join(lines) + f"\n  Total: {totals}"
