"""Turns what the other apps record into alerts, off every request and order path.

A django-q2 task reads each source past a cursor: the live events (order outcomes, copy
errors), the accounts' status transitions, refused signals, and the hosts. It runs every
minute from a schedule and, within about a second, whenever a process publishes an event
for a trader who has alert preferences (alerts.kick). Ids are handed out before commit, so
a row with a smaller id can become visible after a larger one: the cursor only moves past
rows older than ALERTS_DISPATCH_GRACE_S, the rows after it are read again next time, and
an alert's unique `source` makes reading a row twice raise it once.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from terminals.retcodes import retcode_text

from . import selectors
from .models import Cursor, Kind
from .services import alert_raise, operator_alert, owners_with_preferences

BATCH = 500


def _read(name: str, rows_after: Callable[..., list], stamp: str, horizon_id: Callable[..., int] | None = None) -> list:
    """Rows of one source past its cursor; moves the cursor past the leading rows that are
    older than the grace period (nothing with a smaller id can still commit before them).
    `horizon_id` lets it move past rows the source filtered out, too (the live events that
    are no alert), so that they are not scanned again."""
    cursor, _ = Cursor.objects.get_or_create(name=name)
    rows = rows_after(since=cursor.position, limit=BATCH)
    horizon = timezone.now() - timedelta(seconds=settings.ALERTS_DISPATCH_GRACE_S)
    position = cursor.position
    recent = [row.pk for row in rows if getattr(row, stamp) >= horizon]
    for row in rows:
        if getattr(row, stamp) >= horizon:
            break
        position = row.pk
    if horizon_id is not None and len(rows) < BATCH:
        position = max(position, min([horizon_id(since=cursor.position, before=horizon), *(pk - 1 for pk in recent)]))
    if position > cursor.position:
        Cursor.objects.filter(name=name, position__lt=position).update(position=position)
    return rows


def _account_label(account) -> str:
    return f"{account.nickname} ({account.login})" if account.nickname else str(account.login)


def _fresh(rows, source: Callable) -> list:
    """The rows that have not raised their alert yet (a row is read again within the grace period)."""
    raised = selectors.raised_sources(source(row) for row in rows)
    return [row for row in rows if source(row) not in raised]


def _order_alerts(rows) -> int:
    rows = _fresh(rows, lambda row: f"{row.owner_id}:event:{row.pk}")
    orders = selectors.orders_by_id(row.payload.get("id") for row in rows if row.kind == "order")
    raised = 0
    for row in rows:
        payload = row.payload
        if row.kind == "copy_event":
            raised += _copy_alert(row) is not None
            continue
        order = orders.get(payload.get("id"))
        status = payload.get("status")
        if order is None or status not in ("filled", "rejected", "failed"):
            continue
        side = (order.side or order.action).upper()  # BUY/SELL; CLOSE… for closes without a side
        what = f"{side} {order.volume.normalize():f} {order.symbol or order.requested_symbol}".strip()
        where = f"account {_account_label(order.account)}"
        data = {"order": order.pk, "account": order.account_id, "status": status, "source": order.source}
        if status == "filled":
            title = f"Order filled: {what} on {where}"
            text = f"{what} filled at {payload.get('fill_price')} on {where} (ticket {payload.get('ticket')})."
            alert = alert_raise(owner=row.owner_id, kind=Kind.ORDER_FILLED, title=title, text=text, data=data,
                                source=f"{row.owner_id}:event:{row.pk}")  # fmt: skip
        else:
            reason = payload.get("reason") or retcode_text(payload.get("retcode")) or "no reason given"
            title = f"Order {status}: {what} on {where}"
            text = (
                f"{what} was {status} on {where}: {reason}.\n"
                "Check the symbol, the volume and the account's risk limits on the Accounts page, "
                "and that the terminal is online; the History page has every order."
            )
            alert = alert_raise(owner=row.owner_id, kind=Kind.ORDER_FAILED, title=title, text=text, data=data,
                                source=f"{row.owner_id}:event:{row.pk}",
                                coalesce_key=f"order_failed:{order.account_id}:{reason[:80]}")  # fmt: skip
        raised += alert is not None
    return raised


def _copy_alert(row):
    payload = row.payload
    if payload.get("status") != "error":
        return None
    errors = [e.get("error") or e.get("reason") for e in payload.get("executions", []) if e.get("status") == "error"]
    reason = "; ".join(str(e) for e in errors if e) or payload.get("reason") or "see Copy trading history"
    master_order = payload.get("order_id")
    title = f"Copy trade failed: {payload.get('event')} {payload.get('symbol') or ''} (master order {master_order})"
    text = (
        f"A {payload.get('event')} of master order {payload.get('order_id')} was not copied: {reason}.\n"
        "Check the pair's symbol map and volume rule, and that the slave accounts are online (Copy trading page)."
    )
    return alert_raise(owner=row.owner_id, kind=Kind.COPY_ERROR, title=title, text=text,
                       data={"copy_event": payload.get("id")}, source=f"{row.owner_id}:event:{row.pk}",
                       coalesce_key=f"copy_error:{payload.get('master')}:{reason[:80]}")  # fmt: skip


def _account_alerts(rows) -> int:
    raised = 0
    owners = owners_with_preferences({row.owner_id for row in rows})
    rows = _fresh([row for row in rows if row.owner_id in owners], lambda row: f"{row.owner_id}:account:{row.pk}")
    for row in rows:
        if row.status not in ("online", "offline", "error"):
            continue
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
        alert = alert_raise(owner=row.owner_id, kind=Kind.ACCOUNT_STATUS, title=title, text=text,
                            data={"account": row.account_id, "status": row.status},
                            source=f"{row.owner_id}:account:{row.pk}",
                            coalesce_key=f"account:{row.account_id}:{row.status}")  # fmt: skip
        raised += alert is not None
    return raised


def _signal_alerts(rows) -> int:
    raised = 0
    rejected = [row for row in rows if row.status == "refused"]
    owners = owners_with_preferences({row.owner_id for row in rejected})
    wanted = [row for row in rejected if row.owner_id in owners]
    for row in _fresh(wanted, lambda row: f"{row.owner_id}:signal:{row.pk}"):
        problems = "; ".join(f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                             for field, msgs in (row.errors or {}).items())  # fmt: skip
        digest = hashlib.sha256(json.dumps(row.errors, sort_keys=True, default=str).encode()).hexdigest()[:16]
        title = f"Signal refused: {row.action or '?'} {row.symbol or ''}".strip()
        text = (
            f"A {row.source} signal ({row.action or 'no action'} {row.symbol or ''}) was refused and placed nothing: "
            f"{problems or 'invalid body'}.\nFix the alert message in TradingView (the dashboard builds a valid one)."
        )
        alert = alert_raise(owner=row.owner_id, kind=Kind.SIGNAL_REJECTED, title=title, text=text,
                            data={"signal": row.pk, "errors": row.errors}, source=f"{row.owner_id}:signal:{row.pk}",
                            coalesce_key=f"signal_rejected:{digest}")  # fmt: skip
        raised += alert is not None
    return raised


def _host_alerts() -> int:
    raised = 0
    for host in selectors.offline_hosts(since=timezone.now() - timedelta(days=1)):
        outage = f"host:{host.pk}:{int(host.heartbeat_at.timestamp())}"
        if selectors.raised_sources([f"op:{outage}"]):
            continue  # told already (the operator's alert is raised first, the traders' with it)
        last = host.heartbeat_at.strftime("%Y-%m-%d %H:%M UTC")
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
    raised = 0
    rows = _read("event", selectors.events_after, "created_at", selectors.event_horizon_id)
    owners = owners_with_preferences({row.owner_id for row in rows})
    raised += _order_alerts([row for row in rows if row.owner_id in owners])
    raised += _account_alerts(_read("account_event", selectors.account_events_after, "created_at"))
    raised += _signal_alerts(_read("signal", selectors.rejected_signals_after, "received_at"))
    return raised


def service_checks() -> int:
    """Hosts offline and the error rate: once a minute (the schedule), not on every kick."""
    return _host_alerts() + _error_rate_alert()


def daily_summaries() -> int:
    """One summary of the last 24 hours for each trader who wants it; a second run the same
    day raises nothing."""
    now = timezone.now()
    raised = 0
    for owner_id in selectors.summary_owner_ids():
        f = selectors.daily_figures(owner_id=owner_id, since=now - timedelta(hours=24))
        accounts = "\n".join(
            f"  {a['login']}: {a['status']}, balance {a['balance']} {a['currency']}, equity {a['equity']}"
            for a in f["accounts"]
        )
        text = (
            f"Last 24 hours: {f['signals']} signal(s) received, {f['signals_rejected']} refused; "
            f"{f['filled']} order(s) filled, {f['failed']} rejected or failed; {f['copy_errors']} copy error(s).\n"
            f"Accounts:\n{accounts or '  none'}"
        )
        raised += alert_raise(owner=owner_id, kind=Kind.DAILY_SUMMARY, title=f"Daily summary {now:%Y-%m-%d}",
                              text=text, data={k: v for k, v in f.items() if k != "accounts"},
                              source=f"{owner_id}:summary:{now:%Y-%m-%d}") is not None  # fmt: skip
    return raised
