"""/api/v1/orders/: the history of a trader's orders, and clearing it (mt5saas.urls mounts it,
with webhooks' POST that places an order through the signal pipeline)."""

from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from mt5saas.api import OwnedViewSetMixin

from .models import Order
from .retcodes import retcode_text
from .selectors import order_list
from .services import order_history_clear

DEALS_PATH = "/api/v1/deals/"  # mounted by mt5saas.urls with the journal's API


def deals_url(order_id: int, request: HttpRequest | None = None) -> str:
    """GET /api/v1/deals/?order=<id> (the journal's API): the deals an order produced."""
    path = f"{DEALS_PATH}?order={order_id}"
    return request.build_absolute_uri(path) if request is not None else path


class OrderSerializer(serializers.ModelSerializer):
    """An order as the API shows it (docs/api.md)."""

    account_login = serializers.CharField(source="account.login", read_only=True)
    sl = serializers.DecimalField(max_digits=20, decimal_places=8, read_only=True, allow_null=True)
    retcode_text = serializers.SerializerMethodField()
    latency_ms = serializers.FloatField(read_only=True, allow_null=True)
    deals_url = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "signal", "account", "account_login", "source", "action", "side", "order_type",
            "requested_symbol", "symbol", "volume", "risk_percent", "sent_volume", "filled_volume", "price", "sl",
            "tp", "status", "status_reason", "retcode", "retcode_text", "ticket", "fill_price", "digits", "comment",
            "created_at", "queued_at", "sent_at", "done_at", "latency_ms", "deals_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_retcode_text(self, order: Order) -> str:
        return retcode_text(order.retcode)

    def get_deals_url(self, order: Order) -> str:
        """The deals the order produced, as the journal lists them: a link, so the engine's
        list costs no query of the journal (a layer above it) and a deal reads the same everywhere."""
        return deals_url(order.pk, self.context.get("request"))


class OrderFilterSerializer(serializers.Serializer):
    signal = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    account = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    source = serializers.ChoiceField(choices=Order.Source.choices, required=False)
    symbol = serializers.CharField(required=False, max_length=40)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class OrderViewSet(OwnedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """History of orders (filter by signal, account, status, source, symbol, since/until);
    DELETE clears the list shown (the rows stay for the audit)."""

    owned_model = Order
    serializer_class = OrderSerializer
    http_method_names = ["get", "delete"]

    def order_filters(self) -> dict:
        filters = OrderFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return filters.validated_data

    def get_queryset(self):
        return order_list(user=self.request.user, filters=self.order_filters())

    @extend_schema(responses={200: dict})
    def clear(self, request):
        hidden = order_history_clear(user=request.user, filters=self.order_filters())
        return Response({"cleared": hidden}, status=status.HTTP_200_OK)
