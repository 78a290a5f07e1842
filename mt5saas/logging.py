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
