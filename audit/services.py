"""Writes of the audit app: one function records one event."""

import sys

from django.db import models

from mt5saas.logging import redact
from mt5saas.net import client_ip

from .context import current
from .models import AuditEvent


def _origin() -> dict:
    request = current.get().request
    if request is None:
        # Outside a request: a management command, a task or a shell.
        command = sys.argv[1] if sys.argv[0].endswith("manage.py") and len(sys.argv) > 1 else ""
        return {"actor": None, "actor_name": "", "ip": None, "origin": f"command: {command}" if command else "system"}
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "actor": user if signed_in else None,
        "actor_name": user.get_username() if signed_in else "",
        "ip": client_ip(request) or None,
        # Redacted as the log is: a webhook's path is its token.
        "origin": redact(f"{request.method} {request.path}")[:200],
    }


def audit_record(
    *,
    action: str,
    model: str,
    object_id: object = "",
    object_repr: str = "",
    changes: dict | None = None,
    origin: str = "",
) -> AuditEvent:
    """Append one event, attributed to the current request's user and address (or command)."""
    attribution = _origin()
    if origin:
        attribution["origin"] = origin
    return AuditEvent.objects.create(
        action=action,
        model=model,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        changes=changes or {},
        **attribution,
    )


def audit_view(*, model: str, object_id: object = "", object_repr: str = "", query: dict | None = None,
               rows: int | None = None) -> AuditEvent:  # fmt: skip
    """An operator looked at traders' data: one row (object_id) or a list (the search and
    filters used, and how many rows matched). Search text is redacted like a log line."""
    if object_id != "":
        return audit_record(action=AuditEvent.Action.VIEW, model=model, object_id=object_id, object_repr=object_repr)
    query = {name: redact(value) for name, value in (query or {}).items()}
    shown = "&".join(f"{name}={value}" for name, value in query.items()) or "everything"
    return audit_record(
        action=AuditEvent.Action.VIEW,
        model=model,
        object_repr=f"list of {shown} ({rows} rows)",
        changes={"query": query, "rows": rows},
    )


def audit_rotation(*, instance: models.Model) -> AuditEvent:
    """A credential of this row was replaced by an UPDATE that sends no signal."""
    return audit_record(
        action=AuditEvent.Action.ROTATE, model=instance._meta.label, object_id=instance.pk, object_repr=str(instance)
    )
