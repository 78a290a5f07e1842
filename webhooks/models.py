from django.db import models
from django.db.models import Q

from mt5saas.models import OwnedModel


class Signal(OwnedModel):
    """One alert (or manual/API order request) as received, with the reply it got."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook"
        API = "api"
        MANUAL = "manual"
        COPY = "copy"

    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        # Refused at intake (a body that is not JSON, a field error): placed nothing, answered 400.
        REFUSED = "refused"
        UNFILLED = "unfilled"  # accepted, but every order was refused or failed

    source = models.CharField(max_length=8, choices=Source, default=Source.WEBHOOK)
    status = models.CharField(max_length=8, choices=Status, default=Status.ACCEPTED)
    # The trader's idempotency key ("id"); cleared after 24 hours so it may be reused.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL stays out of the unique constraint
    action = models.CharField(max_length=16, blank=True)
    symbol = models.CharField(max_length=40, blank=True)
    payload = models.JSONField(default=dict)
    errors = models.JSONField(default=dict, blank=True)
    # What a refused signal's request was answered, returned again for a repeat of its key
    # (an accepted signal's reply is rebuilt from its orders: webhooks.services._first_reply).
    response = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The lock against two concurrent requests with one key: the second insert fails.
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="signal_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-received_at"]),
            # A trader's refused signals, pruned to the newest few hundred on each refusal.
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return f"signal {self.pk} {self.action} {self.symbol}"

    @property
    def error_lines(self) -> list[str]:
        """Each field error in words; a message that does not name its field is prefixed with it."""
        lines = []
        for name, messages in (self.errors or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                text = str(message)
                named = name in ("body", "non_field_errors") or text.startswith(name)
                lines.append(text if named else f"{name}: {text}")
        return lines
