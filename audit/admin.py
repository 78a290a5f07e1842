from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody, not even a superuser, edits or deletes the trail here."""

    list_display = ("at", "actor_name", "ip", "action", "model", "object_id", "object_repr", "origin")
    list_filter = ("action", "model")
    search_fields = ("actor_name", "object_repr", "object_id", "ip", "origin")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
