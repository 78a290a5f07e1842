"""/api/copy/*: the master EA's trade events, pairs, and the copy history (docs/copy-trading.md, docs/api.md)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.api import OwnedPrimaryKeyRelatedField, OwnedViewSetMixin
from mt5saas.parsers import JSONParser
from terminals.models import TradingAccount

from . import services
from .models import CopyEvent, CopyExecution, CopyPair
from .selectors import history_list
from .services import CopyError


def _error(error: CopyError) -> Response:
    return Response({"success": False, "detail": error.message, "errors": error.errors}, status=error.status)


class TextJSONParser(JSONParser):
    """An EA's WebRequest often labels its JSON text/plain."""

    media_type = "text/plain"


class CopyTradeView(APIView):
    """POST /api/copy/trade: a master's trade event, authenticated by its pair's key."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, TextJSONParser]
    throttle_classes: list = []

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request):
        try:
            data = request.data
        except ParseError:
            return _error(CopyError("The body must be a JSON object."))
        if not isinstance(data, dict):
            return _error(CopyError("The body must be a JSON object."))
        pair = services.pair_by_key(key=data.get("api_key") or request.headers.get("X-API-Key"))
        if pair is None:
            return _error(CopyError("Unknown or rotated API key.", status=401, field="api_key"))
        if not pair.owner.is_active:
            return _error(CopyError("This account is disabled.", status=403))
        master = pair.master
        account = str(data.get("account", "")).strip()
        if master.deleted_at is not None or account not in (master.login, str(master.pk)):
            return _error(
                CopyError(f"Account {account[:20] or '(none)'} is not this pair's master.", status=403, field="account")
            )
        try:
            event = services.event_parse(data)
        except CopyError as error:
            return _error(error)
        row, _ = services.copy_event_receive(master=master, event=event)
        body = {
            # Stored and answered: an error here is each slave's own (see its result), nothing to resend.
            "success": row.status != CopyEvent.Status.ERROR,
            "message": "Signal processed",
            "pairs_processed": row.pairs_processed,
            "event": row.pk,
            "status": row.status,
        }
        if services.event_never_opened(row):
            # A close or modify of an order never opened: recorded, nothing sent, and said so.
            return Response({**body, "success": False, "message": row.reason}, status=422)
        if row.reason:
            body["reason"] = row.reason
        return Response(body)


class CopyPairSerializer(serializers.ModelSerializer):
    master = OwnedPrimaryKeyRelatedField(TradingAccount)
    slave = OwnedPrimaryKeyRelatedField(TradingAccount)
    master_login = serializers.CharField(source="master.login", read_only=True)
    slave_login = serializers.CharField(source="slave.login", read_only=True)
    multiplier = serializers.DecimalField(max_digits=10, decimal_places=4, required=False, min_value=0)
    fixed_volume = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, min_value=0)

    class Meta:
        model = CopyPair
        fields = [
            "id", "master", "master_login", "slave", "slave_login", "volume_mode", "multiplier", "fixed_volume",
            "copy_sl_tp", "auto_symbol_map", "symbol_map", "active", "key_hint", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["key_hint", "created_at", "updated_at"]


def _pair_call(call):
    try:
        return call()
    except CopyError as error:
        raise serializers.ValidationError(error.errors) from None


class CopyPairViewSet(OwnedViewSetMixin, viewsets.ModelViewSet):
    """Pairs of the caller's accounts. The API key comes once in the 201 body; `key` shows
    it again, `rotate-key` replaces it (the old one fails at once)."""

    owned_model = CopyPair
    serializer_class = CopyPairSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        return super().get_queryset().select_related("master", "slave").order_by("pk")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        pair, key = _pair_call(lambda: services.pair_create(owner=self.request.user, **data))
        serializer.instance = pair
        self.created_key = key

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response.data["api_key"] = self.created_key
        return response

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = _pair_call(lambda: services.pair_update(pair=serializer.instance, **data))

    def perform_destroy(self, instance):
        services.pair_delete(pair=instance)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def toggle(self, request, pk=None):
        pair = services.pair_toggle(pair=self.get_object())
        return Response(self.get_serializer(pair).data)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def key(self, request, pk=None):
        return Response({"api_key": services.pair_key_reveal(pair=self.get_object())})

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        return Response({"api_key": services.pair_key_rotate(pair=self.get_object())})


class CopyExecutionSerializer(serializers.ModelSerializer):
    slave_login = serializers.CharField(source="slave.login", read_only=True)
    latency_ms = serializers.FloatField(read_only=True, allow_null=True)
    order_status = serializers.CharField(source="order.status", read_only=True, default=None)

    class Meta:
        model = CopyExecution
        fields = [
            "id", "pair", "slave", "slave_login", "order", "order_status", "status", "error", "symbol",
            "master_volume", "volume_before", "volume_after", "created_at", "done_at", "latency_ms",
        ]  # fmt: skip
        read_only_fields = fields


class CopyEventSerializer(serializers.ModelSerializer):
    master_login = serializers.CharField(source="master.login", read_only=True)
    executions = CopyExecutionSerializer(many=True, read_only=True)
    event = serializers.CharField(source="kind", read_only=True)

    class Meta:
        model = CopyEvent
        fields = [
            "id", "event", "source", "master", "master_login", "order_id", "symbol", "side", "volume", "sl", "tp",
            "status", "reason", "pairs_processed", "received_at", "executions",
        ]  # fmt: skip
        read_only_fields = fields


class HistoryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "error", "skipped", "pending"], required=False)
    master = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class CopyHistoryViewSet(OwnedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every master event and what each slave did; `?status=success|error`. DELETE clears
    the list shown (the rows stay for the audit)."""

    owned_model = CopyEvent
    serializer_class = CopyEventSerializer
    http_method_names = ["get", "delete"]

    def get_queryset(self):
        filters = HistoryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return history_list(user=self.request.user, **filters.validated_data)

    @extend_schema(responses={200: dict})
    def clear(self, request):
        shown = self.get_queryset()  # what the same filters list: ?status=success clears the successes
        hidden = CopyEvent.objects.filter(pk__in=shown.values("pk")).update(hidden_at=timezone.now())
        return Response({"cleared": hidden}, status=status.HTTP_200_OK)
