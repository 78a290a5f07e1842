"""The operators' overview: the service's figures over a window, from each app's selectors."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from terminals.selectors import account_status_counts, host_figures, order_figures, order_refusals
from webhooks.selectors import signal_refusals


@dataclass(frozen=True)
class Window:
    length: timedelta
    bucket_minutes: int  # a minute's buckets over an hour, an hour's over a day


WINDOWS = {"1h": Window(timedelta(hours=1), 1), "24h": Window(timedelta(hours=24), 60)}


def overview_figures(*, window: str) -> dict:
    """Raises KeyError for a window not in WINDOWS."""
    chosen = WINDOWS[window]
    bucket = timedelta(minutes=chosen.bucket_minutes)
    until = timezone.now()
    # Whole buckets, the last one the current (unfinished) minute or hour.
    current = until.replace(second=0, microsecond=0) - timedelta(minutes=until.minute % chosen.bucket_minutes)
    since = current + bucket - chosen.length
    refusals = order_refusals(since=since, until=until) + signal_refusals(since=since, until=until)
    return {
        "window": window,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "bucket_minutes": chosen.bucket_minutes,
        "orders": order_figures(since=since, until=until, bucket_minutes=chosen.bucket_minutes),
        "refusals": sorted(refusals, key=lambda row: (-row["count"], row["kind"], row["reason"])),
        "hosts": host_figures(),
        "accounts": account_status_counts(),
    }
