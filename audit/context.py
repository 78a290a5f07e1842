"""Who is making the current change: the request being served, if any."""

from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Origin:
    request: HttpRequest | None = None


NO_REQUEST = Origin()
current: ContextVar[Origin] = ContextVar("audit_origin", default=NO_REQUEST)
