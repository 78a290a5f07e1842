import json
import logging
import re

# Webhook tokens travel in URLs (TradingView sends nothing else), and servers log URLs.
_SECRET_PATTERNS = [
    (re.compile(r"/webhook/(?!health\b)[^/\s\"'?]+"), "/webhook/<redacted>"),
    (re.compile(r"\bwhk_[A-Za-z0-9_\-]+"), "whk_<redacted>"),
    (re.compile(r"\bmt5_[A-Za-z0-9]+"), "mt5_<redacted>"),
    (re.compile(r"(?i)(Authorization:\s*Token\s+)\S+"), r"\1<redacted>"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Fields of a stored body that hold a credential (POST /webhook/ takes the token in the body;
# EA and script bodies may carry keys and passwords).
_SECRET_KEYS = re.compile(r"(?i)token|secret|passw|api_?key|^key$|auth")
REDACTED = "<redacted>"


def secret_name(name: str) -> bool:
    """Whether a body's field of this name holds a credential."""
    return bool(_SECRET_KEYS.search(name))


def redact_data(value: object) -> object:
    """A copy of a stored JSON body fit to show an operator: credential fields replaced,
    tokens inside any text redacted."""
    if isinstance(value, dict):
        return {key: REDACTED if secret_name(str(key)) else redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


def redacted_json(value: object) -> str:
    """redact_data's copy as indented JSON, for an admin page."""
    return json.dumps(redact_data(value), indent=2, sort_keys=True, default=str)


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class WithoutEnqueueLines(logging.Filter):
    """Drops django-q2's INFO line for every task enqueued: a signal to a hundred accounts
    wrote a hundred of them from the web process, each formatted and redacted on the path of
    the webhook's reply, and the orders' own queued_at stamps say the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.funcName == "async_task")
