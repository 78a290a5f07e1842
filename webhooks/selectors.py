"""Reads of the webhooks app."""

from collections import Counter
from datetime import datetime

from .models import Signal

# Refused alerts whose errors are counted: their reasons are JSON, grouped in Python.
REFUSAL_SAMPLE = 1000


def signal_refusals(*, since: datetime, until: datetime, limit: int = 10) -> list[dict]:
    """Alerts refused at intake in the window (the newest REFUSAL_SAMPLE), most frequent
    reasons first; a reason is a field and its first error."""
    refused = Signal.objects.filter(received_at__gte=since, received_at__lt=until, status=Signal.Status.REJECTED)
    reasons: Counter[str] = Counter()
    for errors in refused.order_by("-received_at").values_list("errors", flat=True)[:REFUSAL_SAMPLE]:
        for field, messages in (errors or {"": ["no reason recorded"]}).items():
            first = messages[0] if isinstance(messages, list) and messages else messages
            reasons[f"{field}: {first}" if field else str(first)] += 1
    return [{"kind": "alert refused", "reason": reason, "count": n} for reason, n in reasons.most_common(limit)]
