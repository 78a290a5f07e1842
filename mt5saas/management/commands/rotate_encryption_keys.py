from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from mt5saas.crypto import DecryptionError, reencrypt
from mt5saas.models import EncryptedField

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field under the newest FIELD_ENCRYPTION_KEYS entry. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options) -> None:
        counts = {}
        for model in apps.get_models():
            fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
            if fields:
                counts[model._meta.label] = self._rotate(model, fields)
        total = sum(counts.values())
        # The trail says that and when the data moved to a new key, never which key.
        audit_record(
            action=AuditEvent.Action.KEY_ROTATION,
            model="FIELD_ENCRYPTION_KEYS",
            object_repr=f"{total} value(s) re-encrypted under the newest key",
            changes=counts,
            origin="command: rotate_encryption_keys",
        )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} value(s) under the newest key."))

    def _rotate(self, model, fields: list[str]) -> int:
        count = 0
        # One transaction: a key problem halfway leaves every row as it was.
        with transaction.atomic():
            rows = model._base_manager.only("pk", *fields).order_by("pk")
            batch = []
            for row in rows.iterator(chunk_size=BATCH):
                for name in fields:
                    if value := getattr(row, name):
                        try:
                            setattr(row, name, reencrypt(value))
                        except DecryptionError:
                            raise CommandError(
                                f"{model._meta.label} #{row.pk}.{name} opens with none of the configured keys; "
                                "nothing was changed"
                            ) from None
                        count += 1
                batch.append(row)
                if len(batch) >= BATCH:
                    model._base_manager.bulk_update(batch, fields)
                    batch = []
            if batch:
                model._base_manager.bulk_update(batch, fields)
        return count
