"""Refused alerts as they are kept for the trader's history: the body cut down and without
secrets, and only each trader's newest REFUSED_KEEP, so a flood of bad bodies (each one
still counts against the webhook's rate limit) cannot fill the database."""

import json

from mt5saas.logging import REDACTED, redact, secret_name

from .models import Signal

REFUSED_KEEP = 500
MAX_FIELDS = 25
MAX_NAME = 40
MAX_VALUE = 120
MAX_TEXT = 500


def _printable(text: str, limit: int) -> str:
    # NUL and lone surrogates fit no column; control characters could forge a log line.
    kept = "".join(char if char.isprintable() or char in "\n\t" else "?" for char in text[:limit])
    kept = kept.encode("utf-8", "replace").decode("utf-8")
    return redact(kept) + ("…" if len(text) > limit else "")


def _value(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and len(str(value)) <= MAX_VALUE:
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return _printable(text, MAX_VALUE)


def refused_body(data: dict) -> dict:
    """What is kept of a refused JSON object: {"body": its first MAX_FIELDS fields, each
    value cut to MAX_VALUE characters, secrets replaced}."""
    body: dict[str, object] = {}
    for name, value in list(data.items())[:MAX_FIELDS]:
        key = _printable(str(name), MAX_NAME)
        body[key] = REDACTED if secret_name(key) else _value(value)
    if len(data) > MAX_FIELDS:
        body["…"] = f"{len(data) - MAX_FIELDS} more field(s) not kept"
    return {"body": body}


def refused_text(raw: bytes) -> dict:
    """What is kept of a body that is no JSON object: {"text": its first MAX_TEXT characters}."""
    return {"text": _printable(raw.decode("utf-8", "replace"), MAX_TEXT)}


def refused_prune(*, owner_id: int) -> None:
    """Keep the owner's newest REFUSED_KEEP refused signals. A pruned one's `id` is forgotten:
    at the default webhook rate limit it is 50 minutes old or more, long past TradingView's
    resends (seconds)."""
    refused = Signal.objects.filter(owner_id=owner_id, status=Signal.Status.REFUSED)
    edge = refused.order_by("-pk").values_list("pk", flat=True)[REFUSED_KEEP : REFUSED_KEEP + 1]
    if edge := list(edge):
        refused.filter(pk__lte=edge[0]).delete()
