from django.contrib import admin, messages
from django.db.models import QuerySet

from audit.admin import TraderDataAdmin

from .models import Alert, Delivery, Endpoint, Preference, PriceAlert
from .services import AlertsError, delivery_retry


@admin.register(Endpoint)
class EndpointAdmin(TraderDataAdmin):
    # url and secret are encrypted fields (not editable): never shown here.
    list_display = ["name", "owner", "url_display", "style", "active", "created_at"]
    list_select_related = ["owner"]
    list_filter = ["style", "active"]
    search_fields = ["name", "owner__username", "url_display"]
    fields = ["owner", "name", "url_display", "style", "active", "created_at"]
    readonly_fields = ["owner", "url_display", "created_at"]


@admin.register(Preference)
class PreferenceAdmin(TraderDataAdmin):
    list_display = ["owner", "kind", "in_app", "email"]
    list_select_related = ["owner"]
    list_filter = ["kind"]
    search_fields = ["owner__username"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["endpoints"]


@admin.register(PriceAlert)
class PriceAlertAdmin(TraderDataAdmin):
    list_display = ["__str__", "owner", "account", "symbol", "condition", "price", "active", "triggered_at"]
    list_select_related = ["owner", "account"]
    list_filter = ["condition", "active", "repeat"]
    search_fields = ["owner__username", "symbol", "name"]
    raw_id_fields = ["owner", "account"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "target", "status", "attempts", "last_error", "next_attempt_at", "sent_at"]
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(TraderDataAdmin):
    list_display = ["title", "owner", "kind", "repeats", "suppressed", "created_at"]
    list_select_related = ["owner"]
    list_filter = ["kind", "suppressed"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["owner", "kind", "title", "text", "data", "source", "coalesce_key", "repeats", "suppressed",
                       "created_at"]  # fmt: skip
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(TraderDataAdmin):
    list_display = ["alert", "owner", "channel", "target", "status", "attempts", "last_error", "created_at"]
    list_select_related = ["alert", "owner"]
    list_filter = ["status", "channel"]
    search_fields = ["target", "owner__username", "alert__title"]
    readonly_fields = ["owner", "alert", "channel", "endpoint", "target", "status", "attempts", "last_error",
                       "next_attempt_at", "created_at", "updated_at", "sent_at"]  # fmt: skip
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry the selected failed deliveries now")
    def retry(self, request, queryset: QuerySet[Delivery]) -> None:
        done = 0
        for delivery in queryset:
            try:
                delivery_retry(delivery=delivery)
                done += 1
            except AlertsError:
                pass  # sent, pending or sending: nothing to retry
        messages.info(request, f"{done} deliver{'y' if done == 1 else 'ies'} queued again.")
