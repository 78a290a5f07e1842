"""Operators see every tenant's pairs and copy history here; keys never (only their hint)."""

from django import forms
from django.contrib import admin

from audit.admin import ReadOnlyInline, ReadOnlyTraderDataAdmin, TraderDataAdmin

from .errors import CopyError
from .models import CopyEvent, CopyExecution, CopyLink, CopyPair
from .services import pair_rule_clean


class CopyPairAdminForm(forms.ModelForm):
    class Meta:
        model = CopyPair
        fields = ["volume_mode", "multiplier", "fixed_volume", "copy_sl_tp", "auto_symbol_map", "symbol_map", "active"]

    def clean(self) -> dict:
        """The rule's checks of pair_create: a symbol map that is not a map would fail every event."""
        data = super().clean()
        rule = {name: data[name] for name in ("multiplier", "fixed_volume", "symbol_map") if data.get(name) is not None}
        try:
            pair_rule_clean(rule)
        except CopyError as error:
            self.add_error(error.field, error.message)
        return {**data, **rule}


@admin.register(CopyPair)
class CopyPairAdmin(TraderDataAdmin):
    form = CopyPairAdminForm
    list_display = ["id", "owner", "master", "slave", "volume_mode", "multiplier", "fixed_volume", "active", "key_hint"]
    list_select_related = ["owner", "master", "slave"]
    list_filter = ["active", "volume_mode", "copy_sl_tp"]
    search_fields = ["owner__username", "master__login", "slave__login"]
    # A new key comes only from the service (pair_create, rotate), shown once to its owner.
    exclude = ["key_digest", "key_ciphertext"]
    # The accounts are the trader's to change, through pair_update's checks (one trader's
    # accounts, no cycle, no copies left open on the old ones); an operator sees them.
    readonly_fields = ["owner", "master", "slave", "key_hint", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


class CopyExecutionInline(ReadOnlyInline):
    model = CopyExecution
    fields = ["slave", "order", "status", "error", "symbol", "master_volume", "volume_before", "volume_after",
              "created_at", "done_at"]  # fmt: skip
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("slave", "order")


@admin.register(CopyEvent)
class CopyEventAdmin(ReadOnlyTraderDataAdmin):
    """A master's trade event and what each slave did with it (its order links to the why)."""

    list_display = ["id", "received_at", "owner", "master", "kind", "source", "order_id", "symbol", "side", "volume",
                    "status", "reason", "pairs_processed"]  # fmt: skip
    list_filter = ["status", "kind", "source"]
    search_fields = ["owner__username", "owner__email", "master__login", "master__nickname", "order_id", "symbol",
                     "reason", "executions__slave__login"]  # fmt: skip
    date_hierarchy = "received_at"
    list_select_related = ["owner", "master"]
    show_full_result_count = False
    inlines = [CopyExecutionInline]


@admin.register(CopyLink)
class CopyLinkAdmin(ReadOnlyTraderDataAdmin):
    list_display = ["id", "owner", "pair", "master_order_id", "slave", "slave_ticket", "master_volume", "volume",
                    "created_at", "closed_at"]  # fmt: skip
    list_filter = [("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["owner__username", "master_order_id", "slave__login", "slave_ticket__exact"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "pair", "slave"]
