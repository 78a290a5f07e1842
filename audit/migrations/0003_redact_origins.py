"""Webhook tokens out of the origins stored before origins were redacted.

A webhook that learned a symbol mapping recorded its request path, token included. The trail
is append-only (AuditEvent.save refuses a second save); this is its one rewrite, done with
UPDATEs and recorded in the trail itself as a `redaction` event naming the rows it changed.
"""

from django.db import migrations, models

from mt5saas.logging import redact

NAME = "audit.0003_redact_origins"


def redact_origins(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    changed = []
    suspects = AuditEvent.objects.filter(
        models.Q(origin__contains="/webhook/") | models.Q(origin__contains="whk_") | models.Q(origin__contains="mt5_")
    )
    for pk, origin in suspects.values_list("pk", "origin").iterator():
        if (clean := redact(origin)) != origin:
            AuditEvent.objects.filter(pk=pk).update(origin=clean)
            changed.append(pk)
    if changed:
        AuditEvent.objects.create(
            action="redaction",
            model="audit.AuditEvent",
            object_repr=f"{len(changed)} request path(s) redacted: webhook tokens removed from origin",
            changes={"origin": changed},
            origin=f"migration: {NAME}",
        )


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_viewed'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('create', 'Create'), ('update', 'Update'), ('delete', 'Delete'), ('rotate', 'Rotate'), ('key_rotation', 'Key Rotation'), ('view', 'View'), ('redaction', 'Redaction')], max_length=12),
        ),
        # Irreversible in substance (the tokens are gone); going back leaves the rows redacted.
        migrations.RunPython(redact_origins, migrations.RunPython.noop),
    ]
