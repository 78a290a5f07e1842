from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One change to an audited row, a token rotation, a key rotation, or an operator's look
    at traders' data in the admin. Append-only: the one rewrite is a migration cutting a
    secret out of earlier events, which records itself as a `redaction` event
    (audit/migrations/0003_redact_origins.py).

    Never holds a secret: encrypted fields, digests and passwords are recorded as
    "changed" without a value (audit.signals decides which fields those are).
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        ROTATE = "rotate"  # a webhook token or copy-pair key replaced
        KEY_ROTATION = "key_rotation"  # rotate_encryption_keys re-encrypted the data
        VIEW = "view"  # an operator opened a list or a row of traders' data in the admin
        REDACTION = "redaction"  # a secret was cut out of earlier events (by a migration)

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # SET_NULL: the trail outlives the user; actor_name keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Where the change came from: a request path or a management command.
    origin = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=12, choices=Action)
    model = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # {field: [old, new]}; a secret field is {field: "changed"}. A list viewed: {"query", "rows"}.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.model} #{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")
