"""Which models are audited, which of their fields are secrets, and the signal receivers.

Fields are recorded with their old and new values, except: secrets (named here, any
EncryptedField, and any field whose name says password, digest, secret or ciphertext) are
recorded as "changed" only; runtime state the service itself keeps up to date (balances,
heartbeats, status) is not recorded at all.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.apps import apps
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from mt5saas.models import EncryptedField

from .models import AuditEvent
from .services import audit_record

SECRET_WORDS = ("password", "digest", "secret", "ciphertext")
CHANGED = "changed"


@dataclass(frozen=True)
class Audited:
    ignore: frozenset[str] = frozenset()
    secret: frozenset[str] = frozenset()
    # A new value in this field means the credential was replaced: recorded as a rotation.
    rotation: str = ""
    # str() and the primary key of some models are secrets (knox's are the digest): such
    # models name themselves here.
    label: Callable[[models.Model], str] = str
    object_id: Callable[[models.Model], object] = lambda instance: instance.pk

    def is_secret(self, model_field: models.Field) -> bool:
        return (
            model_field.name in self.secret
            or isinstance(model_field, EncryptedField)
            or any(word in model_field.name for word in SECRET_WORDS)
        )


TERMINAL_STATE = frozenset(
    [
        "status",
        "status_reason",
        "ea_status",
        "ea_name",
        "heartbeat_at",
        "balance",
        "equity",
        "margin",
        "free_margin",
        "profit",
        "currency",
        "leverage",
        "hedging",
        "symbols",
        "drain_until",
        "logged_in_host",
    ]
)
AUDITED: dict[str, Audited] = {
    "accounts.User": Audited(ignore=frozenset({"last_login"})),
    "accounts.WebhookToken": Audited(ignore=frozenset({"rotated_at"}), rotation="digest"),
    "knox.AuthToken": Audited(
        label=lambda token: f"API key {token.token_key}… of {token.user}", object_id=lambda token: token.token_key
    ),
    # What the service keeps up to date itself (status, heartbeats, balances) is not a change by anyone.
    "terminals.TradingAccount": Audited(ignore=TERMINAL_STATE),
    "terminals.SymbolMapping": Audited(),
    "copytrading.CopyPair": Audited(ignore=frozenset({"updated_at"}), rotation="key_digest"),
}


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if isinstance(value, Decimal | datetime | date):
        return str(value)
    return repr(value)


def _config(instance: models.Model) -> Audited | None:
    return AUDITED.get(instance._meta.label)


def _tracked(config: Audited, instance: models.Model) -> list[models.Field]:
    return [f for f in instance._meta.concrete_fields if f.name not in config.ignore and not f.primary_key]


def _on_pre_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    config = _config(instance)
    if config is None or raw or instance._state.adding or instance.pk is None:
        return
    tracked = _tracked(config, instance)
    if update_fields is not None:
        tracked = [f for f in tracked if f.name in update_fields or f.attname in update_fields]
    if not tracked:
        instance._audit_old = None
        return
    instance._audit_old = sender._base_manager.filter(pk=instance.pk).values(*[f.attname for f in tracked]).first()


def _on_post_save(sender, instance, created=False, raw=False, **kwargs) -> None:
    config = _config(instance)
    if config is None or raw:
        return
    if created:
        changes = {
            f.name: CHANGED if config.is_secret(f) else _plain(f.value_from_object(instance))
            for f in _tracked(config, instance)
        }
        _record(AuditEvent.Action.CREATE, instance, config, changes)
        return
    old = instance.__dict__.pop("_audit_old", None)
    if not old:
        return
    changes = {}
    for f in _tracked(config, instance):
        if f.attname not in old:
            continue
        before, after = old[f.attname], f.value_from_object(instance)
        if before != after:
            changes[f.name] = CHANGED if config.is_secret(f) else [_plain(before), _plain(after)]
    if changes:
        rotated = config.rotation and config.rotation in changes
        _record(AuditEvent.Action.ROTATE if rotated else AuditEvent.Action.UPDATE, instance, config, changes)


def _on_post_delete(sender, instance, **kwargs) -> None:
    if (config := _config(instance)) is not None:
        _record(AuditEvent.Action.DELETE, instance, config, {})


def _record(action: str, instance: models.Model, config: Audited, changes: dict) -> None:
    audit_record(
        action=action,
        model=instance._meta.label,
        object_id=config.object_id(instance),
        object_repr=config.label(instance),
        changes=changes,
    )


def connect() -> None:
    for label in AUDITED:
        try:
            model = apps.get_model(label)
        except LookupError:  # an app that is not installed here
            continue
        uid = f"audit:{label}"
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"{uid}:pre")
        post_save.connect(_on_post_save, sender=model, dispatch_uid=f"{uid}:post")
        post_delete.connect(_on_post_delete, sender=model, dispatch_uid=f"{uid}:delete")
