"""Operators see every tenant's pairs and copy history here; keys never (only their hint)."""

from django import forms
from django.contrib import admin

from .models import CopyEvent, CopyExecution, CopyLink, CopyPair
from .services import CopyError, pair_rule_clean


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
class CopyPairAdmin(admin.ModelAdmin):
    form = CopyPairAdminForm
    list_display = ["id", "owner", "master", "slave", "volume_mode", "multiplier", "fixed_volume", "active", "key_hint"]
    list_filter = ["active", "volume_mode", "copy_sl_tp"]
    search_fields = ["owner__username", "master__login", "slave__login"]
    # A new key comes only from the service (pair_create, rotate), shown once to its owner.
    exclude = ["key_digest", "key_ciphertext"]
    # The accounts are the trader's to change, through pair_update's checks (one trader's
    # accounts, no cycle, no copies left open on the old ones); an operator sees them.
    readonly_fields = ["owner", "master", "slave", "key_hint", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


class CopyExecutionInline(admin.TabularInline):
    model = CopyExecution
    fields = ["slave", "order", "status", "error", "symbol", "volume_before", "volume_after", "done_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(CopyEvent)
class CopyEventAdmin(admin.ModelAdmin):
    list_display = ["id", "received_at", "owner", "master", "kind", "source", "order_id", "symbol", "status"]
    list_filter = ["kind", "source", "status"]
    search_fields = ["owner__username", "master__login", "order_id"]
    readonly_fields = [f.name for f in CopyEvent._meta.fields]
    inlines = [CopyExecutionInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CopyLink)
class CopyLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "pair", "master_order_id", "slave", "slave_ticket", "master_volume", "volume", "closed_at"]
    search_fields = ["master_order_id", "slave__login"]
    readonly_fields = [f.name for f in CopyLink._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
