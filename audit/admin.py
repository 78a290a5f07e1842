from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse

from .models import AuditEvent
from .services import audit_view
from .signals import AUDITED


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


class TraderDataAdmin(admin.ModelAdmin):
    """The admin of a model that holds traders' data: every list and every row an operator
    opens is recorded in the audit trail (who, when, from where, which row or which search)."""

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if request.method == "GET" and response.status_code == 200 and changelist is not None:
            query = {name: ",".join(values) for name, values in request.GET.lists()}
            audit_view(model=self.model._meta.label, query=query, rows=changelist.result_count)
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = (getattr(response, "context_data", None) or {}).get("original")
        if request.method == "GET" and response.status_code == 200 and shown is not None:
            # Some models' primary key and str() are secrets (knox's are the digest).
            config = AUDITED.get(self.model._meta.label)
            label, key = (config.label, config.object_id) if config else (str, lambda row: row.pk)
            audit_view(model=self.model._meta.label, object_id=key(shown), object_repr=label(shown))
        return response


class ReadOnlyTraderDataAdmin(TraderDataAdmin):
    """Records of what happened (orders, signals, events): operators read them, nobody edits
    or deletes them here, one at a time or in bulk."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """The rows of a record shown on its page (a signal's orders, an event's copies), read-only."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False
