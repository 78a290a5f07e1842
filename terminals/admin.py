from django import forms
from django.contrib import admin

from .models import AccountEvent, SymbolMapping, TerminalHost, TradingAccount
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


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    form = TradingAccountForm
    # The encrypted password is not editable, so it never appears here.
    list_display = ["login", "server", "owner", "kind", "host", "status", "balance", "equity", "heartbeat_at"]
    list_filter = ["kind", "status", "is_demo", "host", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["login", "server", "nickname", "owner__username", "owner__email"]
    list_select_related = ["owner", "host"]
    autocomplete_fields = ["owner"]
    fieldsets = [
        (None, {"fields": ["owner", "login", "server", "broker", "kind", "nickname", "is_demo"]}),
        ("Host (change to move the account)", {"fields": ["host", "status", "status_reason", "ea_status"]}),
        ("Money", {"fields": ["balance", "equity", "margin", "free_margin", "profit", "currency", "leverage"]}),
        (
            "Risk guards",
            {"fields": ["max_lot", "max_open_positions", "max_daily_loss", "allowed_symbols", "max_trades_per_hour"]},
        ),
        ("Dates", {"fields": ["heartbeat_at", "created_at", "deleted_at"]}),
    ]
    readonly_fields = [
        "owner", "login", "server", "kind", "status", "status_reason", "ea_status", "balance", "equity",
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
class SymbolMappingAdmin(admin.ModelAdmin):
    list_display = ["account", "requested", "broker_symbol", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["requested", "broker_symbol", "account__login"]
    raw_id_fields = ["account"]
    exclude = ["owner"]

    def save_model(self, request, obj, form, change) -> None:
        obj.owner_id = obj.account.owner_id  # a mapping always belongs to its account's owner
        super().save_model(request, obj, form, change)
