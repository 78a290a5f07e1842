from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["owner", "kind", "payload", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
