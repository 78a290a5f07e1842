from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.admin import ReadOnlyTraderDataAdmin, TraderDataAdmin
from mt5saas.logging import redacted_json

from .models import AccountEvent, Order, SymbolMapping, TerminalHost, TradingAccount
from .retcodes import retcode_text
from .services import account_move, account_move_refusal


@admin.register(TerminalHost)
class TerminalHostAdmin(admin.ModelAdmin):
    list_display = [
        "name", "queue_name", "kind", "capacity", "load", "online", "heartbeat_at",
        "cpu_percent", "memory_percent", "terminals_running",
    ]  # fmt: skip
    list_filter = ["kind", "online"]
    search_fields = ["name", "queue_name"]
    readonly_fields = ["online", "heartbeat_at", "cpu_percent", "memory_percent", "terminals_running"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_load()

    @admin.display(description="load", ordering="load")
    def load(self, obj: TerminalHost) -> int:
        return obj.load


class AccountEventInline(admin.TabularInline):
    model = AccountEvent
    fields = ["created_at", "status", "reason"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-created_at"]
    can_delete = False


class TradingAccountForm(forms.ModelForm):
    def clean_host(self):
        host = self.cleaned_data["host"]
        if "host" in self.changed_data and (refusal := account_move_refusal(account=self.instance, host=host)):
            raise forms.ValidationError(refusal)
        return host


RISK_GUARDS = [
    "max_lot", "max_open_positions", "max_daily_loss", "max_daily_loss_fraction", "max_trade_risk_fraction",
    "allowed_symbols", "max_trades_per_hour",
]  # fmt: skip


@admin.register(TradingAccount)
class TradingAccountAdmin(TraderDataAdmin):
    form = TradingAccountForm
    # The encrypted password is not editable, so it never appears here.
    list_display = ["login", "server", "owner", "kind", "host", "status", "balance", "equity", "heartbeat_at"]
    list_filter = ["kind", "status", "is_demo", "host", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["login", "server", "nickname", "owner__username", "owner__email"]
    list_select_related = ["owner", "host"]
    autocomplete_fields = ["owner"]
    fieldsets = [
        (None, {"fields": ["owner", "login", "server", "broker", "kind", "nickname", "is_demo"]}),
        ("Host (change to move the account)", {"fields": ["host", "status", "status_reason", "ea_status", "ea_name"]}),
        ("Money", {"fields": ["balance", "equity", "margin", "free_margin", "profit", "currency", "leverage"]}),
        ("Risk guards", {"fields": RISK_GUARDS}),
        ("Dates", {"fields": ["heartbeat_at", "created_at", "deleted_at"]}),
    ]
    readonly_fields = [
        "owner", "login", "server", "kind", "status", "status_reason", "ea_status", "ea_name", "balance", "equity",
        "margin", "free_margin", "profit", "currency", "leverage", "heartbeat_at", "created_at", "deleted_at",
    ]  # fmt: skip
    inlines = [AccountEventInline]

    def has_add_permission(self, request) -> bool:
        return False  # accounts are added by logging in on a host (API or Accounts page)

    def save_model(self, request, obj, form, change) -> None:
        if change and "host" in form.changed_data:
            # account_move needs the old host (to stop the terminal there) and the new one.
            new_host = obj.host
            obj.host = TerminalHost.objects.filter(pk=form.initial.get("host")).first()
            account_move(account=obj, host=new_host)
        super().save_model(request, obj, form, change)


@admin.register(SymbolMapping)
class SymbolMappingAdmin(TraderDataAdmin):
    list_display = ["account", "requested", "broker_symbol", "source", "created_at"]
    list_select_related = ["account"]
    list_filter = ["source"]
    search_fields = ["requested", "broker_symbol", "account__login"]
    raw_id_fields = ["account"]
    exclude = ["owner"]

    def save_model(self, request, obj, form, change) -> None:
        obj.owner_id = obj.account.owner_id  # a mapping always belongs to its account's owner
        super().save_model(request, obj, form, change)


ORDER_OUTCOME = ["status", "retcode_words", "status_reason", "comment", "ticket", "fill_price", "sent_volume",
                 "filled_volume", "attempts"]  # fmt: skip
ORDER_REQUEST = ["owner", "account", "source", "action", "side", "order_type", "requested_symbol", "symbol", "volume",
                 "risk_percent", "price", "sl", "tp", "sl_pips", "tp_pips", "position_ticket", "close_fraction", "link",
                 "client_id", "hidden_at"]  # fmt: skip


@admin.register(Order)
class OrderAdmin(ReadOnlyTraderDataAdmin):
    """Why a trade did or did not go through, without a database shell: its outcome in
    words, the stamps of its way to the terminal, the alert it came from (credentials
    redacted) and the master event of a copy."""

    list_display = ["id", "created_at", "owner", "account", "source", "action", "side", "requested_symbol", "volume",
                    "status", "retcode_words", "latency"]  # fmt: skip
    list_filter = ["status", "source", "action", "order_type"]
    search_fields = ["owner__username", "owner__email", "account__login", "account__nickname", "requested_symbol",
                     "symbol", "status_reason", "link", "id__exact", "ticket__exact"]  # fmt: skip
    date_hierarchy = "created_at"
    list_select_related = ["owner", "account"]
    show_full_result_count = False  # counting every order of every tenant on each page is slow
    fieldsets = [
        ("Outcome", {"fields": ORDER_OUTCOME}),
        ("Timing", {"fields": ["created_at", "queued_at", "sent_at", "done_at", "stamps"]}),
        ("Request", {"fields": ORDER_REQUEST}),
        ("Where it came from", {"fields": ["signal", "signal_body", "copy_event"]}),
    ]
    readonly_fields = ["retcode_words", "stamps", "client_id", "signal_body", "copy_event"]

    def get_queryset(self, request):
        # A queryset that joins already makes the changelist skip list_select_related.
        joins = [*self.list_select_related, "signal", "copy_execution__event__master"]
        return super().get_queryset(request).select_related(*joins)

    @admin.display(description="retcode", ordering="retcode")
    def retcode_words(self, order: Order) -> str:
        return retcode_text(order.retcode) or "-"

    @admin.display(description="latency")
    def latency(self, order: Order) -> str:
        return "-" if order.latency_ms is None else f"{order.latency_ms} ms"

    @admin.display(description="after receipt")
    def stamps(self, order: Order) -> str:
        return ", ".join(f"{name} +{ms} ms" for name, ms in order.stamps_ms) or "not queued yet"

    @admin.display(description="client id (in the MT5 comment)")
    def client_id(self, order: Order) -> str:
        return order.client_id

    @admin.display(description="signal body")
    def signal_body(self, order: Order) -> str:
        if order.signal is None:
            return "-"
        return format_html("<pre>{}</pre>", redacted_json(order.signal.payload))

    @admin.display(description="copy event")
    def copy_event(self, order: Order) -> str:
        execution = getattr(order, "copy_execution", None)
        if execution is None:
            return "-"
        event = execution.event
        url = reverse("admin:copytrading_copyevent_change", args=[event.pk])
        return format_html(
            '<a href="{}">{} {} on {}</a>: event {}{}; this copy {} ({} lots before the slave\'s limits, {} after){}',
            url, event.kind, event.order_id, event.master, event.status, f" ({event.reason})" if event.reason else "",
            execution.status, execution.volume_before, execution.volume_after,
            f": {execution.error}" if execution.error else "",
        )  # fmt: skip
