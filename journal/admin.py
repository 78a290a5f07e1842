"""The journal in the admin: read-only (deals, trades and equity points are what the terminals
reported; nobody edits them here), every look recorded in the audit trail. No secret is on
these rows: an account shows as its login."""

from django.contrib import admin

from audit.admin import ReadOnlyTraderDataAdmin

from .models import Deal, EquityPoint, Trade


@admin.register(Deal)
class DealAdmin(ReadOnlyTraderDataAdmin):
    list_display = ["ticket", "time", "owner", "account", "kind", "side", "entry", "symbol", "volume", "price",
                    "profit", "commission", "swap", "reason", "source", "order"]  # fmt: skip
    list_filter = ["kind", "entry", "reason", "source"]
    search_fields = ["owner__username", "owner__email", "account__login", "symbol", "comment", "ticket__exact",
                     "position__exact", "order__id__exact"]  # fmt: skip
    date_hierarchy = "time"
    list_select_related = ["owner", "account"]
    raw_id_fields = ["order"]
    show_full_result_count = False  # counting every deal of every tenant on each page is slow


@admin.register(Trade)
class TradeAdmin(ReadOnlyTraderDataAdmin):
    list_display = ["id", "close_time", "owner", "account", "status", "symbol", "side", "volume", "open_price",
                    "close_price", "profit", "currency", "close_reason", "source", "strategy"]  # fmt: skip
    list_filter = ["status", "close_reason", "source", "side"]
    search_fields = ["owner__username", "owner__email", "account__login", "symbol", "strategy", "position__exact",
                     "id__exact"]  # fmt: skip
    date_hierarchy = "open_time"
    list_select_related = ["owner", "account"]
    raw_id_fields = ["order", "signal", "copy_pair"]
    show_full_result_count = False


@admin.register(EquityPoint)
class EquityPointAdmin(ReadOnlyTraderDataAdmin):
    list_display = ["at", "owner", "account", "step", "balance", "equity", "currency"]
    list_filter = ["step", "currency"]
    search_fields = ["owner__username", "owner__email", "account__login"]
    date_hierarchy = "at"
    list_select_related = ["owner", "account"]
    show_full_result_count = False
