"""/api/v1/orders/ and /api/v1/signals/: history, clearing it, and placing orders by hand or script."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from mt5saas.api import OwnedViewSetMixin
from terminals.models import Order
from terminals.retcodes import retcode_text

from .models import Signal
from .services import signal_receive


class OrderSerializer(serializers.ModelSerializer):
    """An order as the API shows it (docs/api.md)."""

    account_login = serializers.CharField(source="account.login", read_only=True)
    sl = serializers.DecimalField(max_digits=20, decimal_places=8, read_only=True, allow_null=True)
    retcode_text = serializers.SerializerMethodField()
    latency_ms = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id", "signal", "account", "account_login", "source", "action", "side", "order_type",
            "requested_symbol", "symbol", "volume", "price", "sl", "tp", "status", "status_reason", "retcode",
            "retcode_text", "ticket", "fill_price", "digits", "comment", "created_at", "queued_at", "sent_at",
            "done_at", "latency_ms",
        ]  # fmt: skip
        read_only_fields = fields

    def get_retcode_text(self, order: Order) -> str:
        return retcode_text(order.retcode)


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
    POST places an order through the same pipeline as a webhook; DELETE clears the list
    shown (the rows stay for the audit)."""

    owned_model = Order
    serializer_class = OrderSerializer
    http_method_names = ["get", "post", "delete"]

    def get_queryset(self):
        filters = OrderFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        orders = Order.objects.owned_by(self.request.user).filter(hidden_at__isnull=True).select_related("account")
        lookups = {"signal": "signal_id", "account": "account_id", "status": "status", "source": "source"}
        for name, lookup in lookups.items():
            if name in filters.validated_data:
                orders = orders.filter(**{lookup: filters.validated_data[name]})
        if symbol := filters.validated_data.get("symbol"):
            orders = orders.filter(requested_symbol__iexact=symbol) | orders.filter(symbol__iexact=symbol)
        if since := filters.validated_data.get("since"):
            orders = orders.filter(created_at__gte=since)
        if until := filters.validated_data.get("until"):
            orders = orders.filter(created_at__lte=until)
        return orders.order_by("-created_at", "-pk")

    @extend_schema(
        request=dict,
        responses={202: dict},
        description=(
            "Place an order with the fields of a TradingView alert. Without `accounts` (or `account`) it goes to "
            "the caller's current account (`POST /api/v1/accounts/{id}/switch`, `GET /api/v1/accounts/current`), "
            "not to every account as a webhook alert does."
        ),
    )
    def create(self, request):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError("The body must be a JSON object.")
        # A browser session places manual orders; a script with an API key places API orders.
        source = (
            Signal.Source.MANUAL
            if isinstance(request.successful_authenticator, SessionAuthentication)
            else Signal.Source.API
        )
        # The accounts API's contract: trading endpoints use the current account unless told otherwise.
        reply_status, body = signal_receive(
            user=request.user, data=dict(request.data), source=source, current_account=True
        )
        return Response(body, status=reply_status)

    @extend_schema(responses={200: dict})
    def clear(self, request):
        hidden = self.get_queryset().update(hidden_at=timezone.now())
        return Response({"cleared": hidden}, status=status.HTTP_200_OK)


class SignalSerializer(serializers.ModelSerializer):
    orders = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Signal
        fields = ["id", "source", "status", "action", "symbol", "payload", "errors", "received_at", "orders"]
        read_only_fields = fields


class SignalFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Signal.Status.choices, required=False)


class SignalViewSet(OwnedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every alert received, refused ones too (`status` refused, `errors` by field, `payload`
    what was kept of the body: {"body": {…}} or {"text": "…"}, without secrets); `?status=`."""

    owned_model = Signal
    serializer_class = SignalSerializer

    def get_queryset(self):
        filters = SignalFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        signals = Signal.objects.owned_by(self.request.user).filter(hidden_at__isnull=True)
        if status := filters.validated_data.get("status"):
            signals = signals.filter(status=status)
        return signals.prefetch_related("orders").order_by("-received_at", "-pk")
