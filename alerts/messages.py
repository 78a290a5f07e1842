"""What an alert says on each channel: email subject and text, webhook bodies, signatures."""

import hashlib
import hmac
import json
import re
import time

from django.conf import settings
from django.utils import timezone

from .models import Alert, Endpoint

SIGNATURE_HEADER = "X-Mt5saas-Signature"
TIMESTAMP_HEADER = "X-Mt5saas-Timestamp"
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str, limit: int = 150) -> str:
    """Text safe for a header (an email subject): line breaks become spaces, so a name
    carrying "\\r\\nBcc: …" stays part of the subject."""
    return _LINE_BREAKS.sub(" ", text).strip()[:limit]


def email_subject(alert: Alert) -> str:
    return one_line(f"[mt5saas] {alert.title}")


def email_text(alert: Alert) -> str:
    repeats = f"\n\nThis happened {alert.repeats + 1} times." if alert.repeats else ""
    footer = "Change where alerts go on the Alerts page." if alert.owner_id else "Operator alert (ALERT_EMAIL)."
    return f"{alert.text}{repeats}\n\n-- \n{footer}\n"


def webhook_body(alert: Alert, style: str) -> bytes:
    text = f"{alert.title}\n{alert.text}"
    if style == Endpoint.Style.DISCORD:
        body: dict = {"content": text[:2000], "allowed_mentions": {"parse": []}}
    elif style == Endpoint.Style.SLACK:
        body = {"text": text}
    elif style == Endpoint.Style.TELEGRAM:
        # chat_id comes with the URL's query (…/sendMessage?chat_id=…).
        body = {"text": text[:4096], "disable_web_page_preview": True}
    else:
        body = {
            "id": alert.pk,
            "kind": alert.kind,
            "title": alert.title,
            "text": alert.text,
            "data": alert.data,
            "created_at": alert.created_at.isoformat(),
            "sent_at": timezone.now().isoformat(),
        }
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """v1=HMAC-SHA256(secret, "<timestamp>." + body), hex: what receivers recompute."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def webhook_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": f"mt5saas-alerts ({settings.PUBLIC_URL or 'self-hosted'})"[:120],
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def signature_valid(secret: str, timestamp: str, body: bytes, header: str, *, tolerance_s: int = 300) -> bool:
    """The receiver's check (documented in docs/alerts.md and used by the tests)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
