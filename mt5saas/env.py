"""Readers of the environment for settings: the .env file, rate limits, and the names the
single-user bot's .env used. Each refusal is one line naming the variable (SystemExit, so
manage.py prints it without a traceback) and never carries a secret's value.
"""

import os
import re
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from dotenv import load_dotenv
from dotenv.parser import parse_stream


def refuse(message: str) -> NoReturn:
    raise SystemExit(f"mt5saas: {message}")


def read_env_file(default: Path) -> Path | None:
    """Load a .env file into os.environ as the single-user bot did (python-dotenv's
    load_dotenv: a variable already in the environment wins over the file). ENV_FILE names
    another file, and an empty ENV_FILE reads none (the test suite sets it so). Returns the
    file read, None when there is none."""
    named = os.environ.get("ENV_FILE")
    if named == "":
        return None
    path = Path(named) if named else default
    if not path.exists():
        if named:
            refuse(f"ENV_FILE names {named}, which does not exist")
        return None
    if not path.is_file():
        refuse(f"{path} is not a file")
    try:
        # utf-8-sig: Windows editors start the file with a byte-order mark, which would
        # otherwise become part of the first variable's name.
        with path.open(encoding="utf-8-sig") as stream:
            # load_dotenv only warns about a line it cannot read and goes on without it.
            if bad := next((binding for binding in parse_stream(stream) if binding.error), None):
                refuse(f"{path} line {bad.original.line} is not NAME=value")
    except UnicodeDecodeError:
        refuse(f"{path} is not UTF-8 text")
    load_dotenv(path, override=False, encoding="utf-8-sig")
    return path


# django-ratelimit and DRF's throttles both read "N/s|m|h|d"; each reads other text its own
# way (or fails on every request), so the value is checked and converted once, here.
_RATE = re.compile(r"(\d{1,9})(?:\s*/\s*|\s+per\s+)([a-z]+)", re.IGNORECASE | re.ASCII)
_UNITS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
}


def rate_limit(name: str, default: str) -> str:
    """`N/u` from `N/s|m|h|d` or `N per second|minute|hour|day` (the bot's form)."""
    text = os.environ.get(name, "").strip() or default
    match = _RATE.fullmatch(text)
    unit = _UNITS.get(match[2].lower()) if match else None
    if unit is None or int(match[1]) < 1:
        refuse(f'{name} must be a count per second, minute, hour or day, like "10/m" or "10 per minute", not {text!r}')
    return f"{int(match[1])}/{unit}"


def aliased(name: str, old: str, *, default: str = "") -> str:
    """`name`, or `old`, the single-user bot's name for it. Both set to different values is
    refused: neither may be ignored silently."""
    new_value, old_value = os.environ.get(name, "").strip(), os.environ.get(old, "").strip()
    if new_value and old_value and new_value.rstrip("/\\") != old_value.rstrip("/\\"):
        refuse(f"{name} and {old} (its old name) are set to different values: keep {name} only")
    return new_value or old_value or default


def public_url() -> str:
    """PUBLIC_URL (the bot's EXTERNAL_BASE_URL), without a trailing slash."""
    value = aliased("PUBLIC_URL", "EXTERNAL_BASE_URL")
    if value and not _is_web_address(value):
        name = "PUBLIC_URL" if os.environ.get("PUBLIC_URL", "").strip() else "EXTERNAL_BASE_URL"
        refuse(f"{name} must be an address like https://mt5saas.example.com, not {value!r}")
    return value.rstrip("/")


def _is_web_address(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme in {"http", "https"} and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 address
        return False


def alert_email() -> str:
    value = os.environ.get("ALERT_EMAIL", "").strip()
    if value and not _is_address(value):
        refuse(f"ALERT_EMAIL must be one email address, not {value!r}")
    return value


LEGACY_SMTP = ("SMTP_SERVER", "SMTP_PORT", "EMAIL_USER", "EMAIL_PASS")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def _legacy_email_url() -> str:
    """The EMAIL_URL the bot's SMTP_SERVER, SMTP_PORT, EMAIL_USER and EMAIL_PASS mean; "" when
    none is set. The bot sent with SSL on port 465 and STARTTLS on any other (587 by default)."""
    server, port_text, user, password = (os.environ.get(name, "").strip() for name in LEGACY_SMTP)
    if not (server or port_text or user or password):
        return ""
    if not server:
        named = "/".join(name for name in LEGACY_SMTP if os.environ.get(name, "").strip())
        if os.environ.get("EMAIL_URL", "").strip():
            refuse(f"EMAIL_URL is set, and so is {named} (its old parts): keep EMAIL_URL only")
        refuse(f"{named} without SMTP_SERVER: set SMTP_SERVER too, or EMAIL_URL instead")
    if not _HOST.fullmatch(server):
        refuse(f"SMTP_SERVER must be a host name like smtp.gmail.com, not {server!r}")
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else 0
    if port_text and not 1 <= port <= 65535:
        refuse(f"SMTP_PORT must be a port number, not {port_text!r}")
    if password and not user:
        refuse("EMAIL_PASS needs EMAIL_USER, the account it signs in as")
    port = port or 587
    scheme = "smtp+ssl" if port == 465 else "smtp+tls"
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    return f"{scheme}://{credentials}{server}:{port}"


def _email_config(url: str, name: str) -> dict:
    try:
        return environ.Env.email_url_config(url)
    except (ValueError, ImproperlyConfigured):
        # Not the value: it holds the password.
        refuse(f"{name} is not an email URL like smtp+tls://user:password@smtp.example.com:587")


def email_settings() -> dict:
    """Django's EMAIL_* settings from EMAIL_URL or from the bot's four SMTP variables (the same
    settings that EMAIL_URL would give); the console backend when neither is set."""
    url = os.environ.get("EMAIL_URL", "").strip()
    legacy = _legacy_email_url()
    if url and legacy and _email_config(url, "EMAIL_URL") != _email_config(legacy, "SMTP_SERVER"):
        refuse("EMAIL_URL and SMTP_SERVER/SMTP_PORT/EMAIL_USER/EMAIL_PASS (its old names) differ: keep EMAIL_URL only")
    return _email_config(url, "EMAIL_URL") if url else _email_config(legacy or "consolemail://", "SMTP_SERVER")


def default_from_email() -> str:
    """DEFAULT_FROM_EMAIL; with the bot's settings, its EMAIL_USER when that is an address (the
    bot sent as the account it signed in with, and many servers refuse any other sender)."""
    if value := os.environ.get("DEFAULT_FROM_EMAIL", "").strip():
        return value
    user = os.environ.get("EMAIL_USER", "").strip()
    if user and not os.environ.get("EMAIL_URL", "").strip() and _is_address(user):
        return user
    return "mt5saas <noreply@localhost>"


def _is_address(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def refuse_basic_auth() -> None:
    """The bot guarded its pages with HTTP basic auth; here everyone signs in at /login."""
    if names := [name for name in ("BASIC_USER", "BASIC_PASS") if os.environ.get(name, "").strip()]:
        refuse(
            f"{' and '.join(names)} no longer apply: people sign in at /login (Google, or a password "
            "when PASSWORD_LOGIN=1; create an operator with `manage.py createsuperuser`). "
            f"Remove {' and '.join(names)} from the environment and .env"
        )
