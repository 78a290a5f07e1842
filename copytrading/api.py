"""/api/copy/*: the master EA's trade events, pairs, and the copy history (docs/copy-trading.md, docs/api.md)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.api import OwnedPrimaryKeyRelatedField, OwnedViewSetMixin
from mt5saas.parsers import JSONParser
from terminals.models import TradingAccount

from . import services
from .errors import CopyConflict, CopyError, CopyForbidden, CopyKeyUnknown, CopyRefused
from .models import CopyEvent, CopyExecution, CopyPair
from .selectors import event_never_opened, history_list

# A conflict is a 400 as every refusal: the contract was written before errors had kinds.
ERROR_STATUS: dict[type[CopyError], int] = {
    CopyRefused: 400,
    CopyConflict: 400,
    CopyKeyUnknown: 401,
    CopyForbidden: 403,
}


class CopyErrorAnswers:
    """The one place /api/copy/ answers copy trading's errors (copytrading.errors): the status by
    their kind; the EA's trade endpoint (`ea_answers`) in its own body, the others as every API
    error is (a refusal: `{"detail", "errors"}`)."""

    ea_answers = False

    def handle_exception(self, exc):
        if isinstance(exc, CopyError):
            code = next(code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind))
            if self.ea_answers:
                return Response({"success": False, "detail": exc.message, "errors": exc.errors}, status=code)
            return super().handle_exception(_api_exception(exc, code))
        return super().handle_exception(exc)


def _api_exception(error: CopyError, code: int) -> APIException:
    if code == 400:
        return serializers.ValidationError(error.errors)
    exception = APIException(error.message)
    exception.status_code = code
    return exception


class TextJSONParser(JSONParser):
    """An EA's WebRequest often labels its JSON text/plain."""

    media_type = "text/plain"


class CopyTradeView(CopyErrorAnswers, APIView):
    """POST /api/copy/trade: a master's trade event, authenticated by its pair's key."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, TextJSONParser]
    throttle_classes: list = []
    ea_answers = True

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request):
        data = _json_object(request)
        key = data.get("api_key") or request.headers.get("X-API-Key")
        master = services.master_by_key(key=key, account=data.get("account", ""))
        event = services.event_parse(data)
        row, _ = services.copy_event_receive(master=master, event=event)
        body = {
            # Stored and answered: an error here is each slave's own (see its result), nothing to resend.
            "success": row.status != CopyEvent.Status.ERROR,
            "message": "Signal processed",
            "pairs_processed": row.pairs_processed,
            "event": row.pk,
            "status": row.status,
        }
        if event_never_opened(row):
            # A close or modify of an order never opened: recorded, nothing sent, and said so.
            return Response({**body, "success": False, "message": row.reason}, status=422)
        if row.reason:
            body["reason"] = row.reason
        return Response(body)


def _json_object(request) -> dict:
    try:
        data = request.data
    except ParseError:
        data = None
    if not isinstance(data, dict):
        raise CopyRefused("The body must be a JSON object.")
    return data


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


class CopyPairViewSet(CopyErrorAnswers, OwnedViewSetMixin, viewsets.ModelViewSet):
    """Pairs of the caller's accounts. The API key comes once in the 201 body; `key` shows
    it again, `rotate-key` replaces it (the old one fails at once)."""

    owned_model = CopyPair
    serializer_class = CopyPairSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        return super().get_queryset().select_related("master", "slave").order_by("pk")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        pair, key = services.pair_create(owner=self.request.user, **data)
        serializer.instance = pair
        self.created_key = key

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response.data["api_key"] = self.created_key
        return response

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.pair_update(pair=serializer.instance, **data)

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
        return Response({"cleared": services.history_clear(events=shown)}, status=status.HTTP_200_OK)
