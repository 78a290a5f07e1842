from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from audit.admin import ReadOnlyInline, ReadOnlyTraderDataAdmin
from mt5saas.logging import redacted_json
from terminals.models import Order
from terminals.selectors import retcode_text

from .models import Signal


def shown_json(value: object) -> str:
    return format_html("<pre>{}</pre>", redacted_json(value))


class OrderInline(ReadOnlyInline):
    model = Order
    fields = ["account", "action", "side", "requested_symbol", "symbol", "volume", "status", "retcode_words",
              "status_reason", "done_at"]  # fmt: skip
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    @admin.display(description="retcode")
    def retcode_words(self, order: Order) -> str:
        return retcode_text(order.retcode) or "-"


@admin.register(Signal)
class SignalAdmin(ReadOnlyTraderDataAdmin):
    """Every alert as received: refused ones with each field's error, accepted ones with
    the orders they became. Credentials in a body (POST /webhook/ carries the token) never show."""

    list_display = ["id", "received_at", "owner", "source", "status", "action", "symbol", "idempotency_key", "orders"]
    list_filter = ["status", "source"]
    search_fields = ["owner__username", "owner__email", "symbol", "idempotency_key", "orders__account__login",
                     "id__exact"]  # fmt: skip
    date_hierarchy = "received_at"
    list_select_related = ["owner"]
    show_full_result_count = False
    fields = ["owner", "source", "status", "action", "symbol", "idempotency_key", "received_at", "hidden_at", "body",
              "field_errors", "reply"]  # fmt: skip
    readonly_fields = ["body", "field_errors", "reply"]
    inlines = [OrderInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(order_count=Count("orders"))

    @admin.display(description="orders", ordering="order_count")
    def orders(self, signal: Signal) -> int:
        return signal.order_count

    @admin.display(description="body (as parsed)")
    def body(self, signal: Signal) -> str:
        return shown_json(signal.payload)

    @admin.display(description="errors")
    def field_errors(self, signal: Signal) -> str:
        return shown_json(signal.errors) if signal.errors else "-"

    @admin.display(description="reply")
    def reply(self, signal: Signal) -> str:
        return shown_json(signal.response) if signal.response else "-"
