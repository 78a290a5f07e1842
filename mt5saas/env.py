"""Readers of the environment for settings. Each refusal is one line naming the variable
(SystemExit, so manage.py prints it without a traceback).
"""

import os
import re
from typing import NoReturn


def refuse(message: str) -> NoReturn:
    raise SystemExit(f"mt5saas: {message}")


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
