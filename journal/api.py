"""/api/v1/deals/, /api/v1/trades/ (JSON pages or the whole filtered list as CSV), /api/v1/stats/
and /api/v1/accounts/<id>/equity/ (mt5saas.urls mounts them). Read-only, the caller's rows only."""

from dataclasses import asdict

from django.core.paginator import Paginator
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, renderers, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.api import OwnedViewSetMixin, Pagination
from terminals.models import TradingAccount

from .csv_export import csv_response
from .models import Deal, Source, Trade
from .selectors import (
    SIDES,
    FilterError,
    JournalFilter,
    account_get,
    date_range,
    deals,
    equity_points,
    journal_filter,
    money_movements,
    trades,
)
from .stats import BREAKDOWNS, breakdown, equity_curve, figures


class DealSerializer(serializers.ModelSerializer):
    """A deal as the API shows it: the contract's names (docs/api.md), then the rest of the row."""

    class Meta:
        model = Deal
        fields = [
            "ticket", "account", "time", "symbol", "side", "entry", "volume", "price", "profit", "commission",
            "swap", "fee", "position", "reason", "order",
            "id", "kind", "currency", "magic", "comment", "terminal_order", "source",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "side": {"help_text": "buy or sell; empty for money movements (balance, credit, ...)"},
            "order": {"help_text": "our order (/api/v1/orders/) that caused it; null when outside the service"},
        }


class TradeSerializer(serializers.ModelSerializer):
    """A closed trade: the contract's names (docs/api.md), then the rest of the row."""

    class Meta:
        model = Trade
        fields = [
            "id", "account", "symbol", "side", "volume", "open_time", "open_price", "close_time", "close_price",
            "profit", "commission", "swap", "pips", "duration_s", "close_reason", "source", "strategy", "signal",
            "copy_pair", "slippage_points",
            "status", "position", "closed_volume", "gross_profit", "fee", "currency", "order",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "profit": {"help_text": "net of commission, swap and fee"},
            "slippage_points": {"help_text": "fill against the price the alert asked for; positive is worse"},
        }


class CSVRenderer(renderers.BaseRenderer):
    """Names `?format=csv` (and `Accept: text/csv`) for content negotiation; the list itself
    streams its CSV (journal.csv_export), so this never renders a body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("CSV lists are streamed, not rendered.")


class IdsFirstPaginator(Paginator):
    """Pages a far page cheaply: the page's ids first (an offset over the list index alone,
    journal.models), then those rows. The count is exact; the index makes it cheap too."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        # By primary key alone: these ids come from the caller's own filtered list, and with the
        # filters again a database may pick the list index over the key and scan.
        rows = {row.pk: row for row in self.object_list.model._default_manager.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class JournalPagination(Pagination):
    """The project's pages ({count, next, previous, results}), read as IdsFirstPaginator reads."""

    django_paginator_class = IdsFirstPaginator


def filters_of(request) -> JournalFilter:
    try:
        return journal_filter(request.query_params, user=request.user)
    except FilterError as error:
        raise ValidationError({name: [message] for name, message in error.errors.items()}) from None


def _date_params() -> list[OpenApiParameter]:
    text = "an ISO date (YYYY-MM-DD) or date and time; naive values are in the caller's time zone"
    return [
        OpenApiParameter("since", str, description=f"from ({text}); inclusive"),
        OpenApiParameter("until", str, description=f"to ({text}); a date includes that whole day"),
        OpenApiParameter("date_from", str, description="another name for since"),
        OpenApiParameter("date_to", str, description="another name for until"),
    ]


FILTER_PARAMETERS = [
    OpenApiParameter("account", int, description="one of your accounts (its id); another id is a 404"),
    OpenApiParameter("symbol", str, description="the broker's symbol name, any case"),
    OpenApiParameter("side", str, enum=SIDES),
    OpenApiParameter("source", str, enum=Source.values, description="what caused it on our side"),
    OpenApiParameter("strategy", str, description="the alert's comment"),
    OpenApiParameter("copy_pair", int, description="one of your copy pairs (its id)"),
    OpenApiParameter("order", int, description="one of your orders (its id): what it produced"),
    *_date_params(),
]
LIST_PARAMETERS = [
    *FILTER_PARAMETERS,
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: every matching row, not a page"),
]


class JournalListViewSet(OwnedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A read-only journal list: filters checked by journal.selectors, a page of JSON, or every
    matching row as CSV (`?format=csv`); errors are JSON whichever format was asked for."""

    http_method_names = ["get", "head"]
    pagination_class = JournalPagination
    csv_name = ""  # the download's name before the date

    def select(self, filters: JournalFilter):
        raise NotImplementedError

    def get_queryset(self):
        if self.action == "retrieve":  # one row by id: no filters, but only the caller's
            return super().get_queryset()
        return self.select(filters_of(self.request))

    def get_renderers(self):
        if self.action == "list":
            return [renderers.JSONRenderer(), CSVRenderer()]
        return [renderers.JSONRenderer()]

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:  # DRF's answer to a format no renderer has
            raise ValidationError({"format": ["json, or csv for a list."]}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and isinstance(response.accepted_renderer, CSVRenderer):
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = "application/json"
        return response

    def list(self, request, *args, **kwargs):
        if isinstance(request.accepted_renderer, CSVRenderer):
            columns = self.get_serializer_class().Meta.fields
            filename = f"{self.csv_name}-{timezone.localdate():%Y-%m-%d}.csv"
            return csv_response(request._request, self.get_queryset().values_list(*columns), columns, filename)
        return super().list(request, *args, **kwargs)


class DealViewSet(JournalListViewSet):
    """Every deal of your accounts, newest first: trades and money movements (deposits,
    withdrawals, credit), whoever caused them."""

    owned_model = Deal
    serializer_class = DealSerializer
    csv_name = "deals"

    def select(self, filters: JournalFilter):
        return deals(user=self.request.user, filters=filters)

    @extend_schema(parameters=LIST_PARAMETERS, responses={(200, "application/json"): DealSerializer(many=True),
                                                          (200, "text/csv"): OpenApiTypes.STR})  # fmt: skip
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class TradeViewSet(JournalListViewSet):
    """Your closed trades, newest close first."""

    owned_model = Trade
    serializer_class = TradeSerializer
    csv_name = "trades"

    def select(self, filters: JournalFilter):
        return trades(user=self.request.user, filters=filters)

    @extend_schema(parameters=LIST_PARAMETERS, responses={(200, "application/json"): TradeSerializer(many=True),
                                                          (200, "text/csv"): OpenApiTypes.STR})  # fmt: skip
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def _money(**kwargs) -> serializers.DecimalField:
    # As computed, unrounded; a string like every amount of the API.
    return serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True, **kwargs)


class SideSerializer(serializers.Serializer):
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    net_profit = _money()


class StatsSerializer(serializers.Serializer):
    """The figures of one currency's closed trades (journal.stats.Figures)."""

    currency = serializers.CharField()
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    net_profit = _money()
    gross_profit = _money()
    gross_loss = _money(help_text="negative or zero")
    commission = _money()
    swap = _money()
    win_rate = _money(allow_null=True, help_text="percent")
    profit_factor = _money(allow_null=True, help_text="null without losses")
    expectancy = _money(allow_null=True)
    average_win = _money(allow_null=True)
    average_loss = _money(allow_null=True)
    largest_win = _money(allow_null=True)
    largest_loss = _money(allow_null=True)
    max_drawdown = _money(help_text="money, positive")
    max_drawdown_pct = _money(allow_null=True)
    trades_per_day = _money(allow_null=True)
    gain_pct = _money(allow_null=True, help_text="time-weighted across deposits and withdrawals")
    daily_gain_pct = _money(allow_null=True)
    monthly_gain_pct = _money(allow_null=True)
    sharpe_ratio = _money(allow_null=True, help_text="over daily returns")
    sortino_ratio = _money(allow_null=True)
    deposits = _money()
    withdrawals = _money()
    long = SideSerializer()
    short = SideSerializer()


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    currency = serializers.CharField()
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    net_profit = _money()


class BreakdownSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=BREAKDOWNS)
    groups = GroupSerializer(many=True)


class StatsAnswerSerializer(serializers.Serializer):
    account = serializers.IntegerField(allow_null=True, help_text="the account asked for; null for all")
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    stats = StatsSerializer(many=True, help_text="one per currency: amounts in different currencies are never added")
    breakdown = BreakdownSerializer(required=False, help_text="with ?breakdown=")


class StatsView(APIView):
    """Statistics of your closed trades under the journal's filters, one set per currency."""

    owned_model = Trade  # what the figures are made of (the isolation walk reads this)

    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("breakdown", str, enum=BREAKDOWNS, description="also group the trades by this"),
        ],
        responses=StatsAnswerSerializer,
    )
    def get(self, request):
        filters = filters_of(request)
        by = (request.query_params.get("breakdown") or "").strip()
        if by and by not in BREAKDOWNS:
            raise ValidationError({"breakdown": [f"One of: {', '.join(BREAKDOWNS)}."]})
        closed = trades(user=request.user, filters=filters).order_by()
        answer = {
            "account": filters.account,
            "since": filters.since,
            "until": filters.until,
            "stats": [asdict(one) for one in figures(closed, money_movements(user=request.user, filters=filters))],
        }
        if by:
            answer["breakdown"] = {"by": by, "groups": [asdict(group) for group in breakdown(closed, by)]}
        return Response(StatsAnswerSerializer(answer).data)


class PointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    balance = _money()
    equity = _money()


class EquitySerializer(serializers.Serializer):
    account = serializers.IntegerField()
    currency = serializers.CharField()
    points = PointSerializer(many=True, help_text="oldest first; at most a few thousand whatever the range")


class EquityView(APIView):
    """One of your accounts' balance and equity over time (`since`, `until` as the journal's)."""

    owned_model = TradingAccount  # the id in the path (the isolation walk reads this)

    @extend_schema(parameters=_date_params(), responses=EquitySerializer)
    def get(self, request, pk: str):
        account = account_get(user=request.user, pk=int(pk))
        errors: dict[str, str] = {}
        since, until = date_range(request.query_params, errors)
        if errors:
            raise ValidationError({name: [message] for name, message in errors.items()})
        points = equity_curve(equity_points(user=request.user, account=account), since=since, until=until)
        answer = {"account": account.pk, "currency": account.currency, "points": [asdict(p) for p in points]}
        return Response(EquitySerializer(answer).data)
