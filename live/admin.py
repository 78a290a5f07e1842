from django.contrib import admin
from django.utils.html import format_html

from audit.admin import ReadOnlyTraderDataAdmin
from mt5saas.logging import redacted_json

from .models import Event


@admin.register(Event)
class EventAdmin(ReadOnlyTraderDataAdmin):
    """The live events each trader's browser was sent (kept for catch-up, then pruned)."""

    list_display = ["id", "created_at", "owner", "kind", "status"]
    list_filter = ["kind"]
    # The payload as text: an account login, a symbol or an order id finds its events.
    search_fields = ["owner__username", "owner__email", "payload", "id__exact"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    show_full_result_count = False
    fields = ["owner", "kind", "created_at", "body"]
    readonly_fields = ["body"]

    @admin.display(description="status")
    def status(self, event: Event) -> str:
        return str(event.payload.get("status", "")) if isinstance(event.payload, dict) else ""

    @admin.display(description="payload")
    def body(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", redacted_json(event.payload))
