"""/api/v1/accounts/ and the operators' /api/admin/hosts and /api/admin/assignments."""

from django_ratelimit.core import get_usage
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.response import Response

from mt5saas.api import IsStaff, OwnedPrimaryKeyRelatedField, OwnedViewSetMixin

from .drivers.base import TerminalError
from .gateway import as_dicts, terminal_read
from .models import LOGIN_MESSAGE, LOGIN_PATTERN, SymbolMapping, TerminalHost, TradingAccount
from .selectors import account_current, account_list, host_list
from .services import (
    AccountError,
    account_connect,
    account_delete,
    account_instance,
    account_move,
    account_switch,
    account_update,
    symbol_mapping_add,
)
from .symbols import SymbolError, symbol_mapping_delete, symbol_normalize


class AccountSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = TradingAccount
        fields = [
            "id", "login", "server", "broker", "kind", "nickname", "is_demo", "host", "status", "status_reason",
            "ea_status", "heartbeat_at", "balance", "equity", "margin", "free_margin", "profit", "currency",
            "leverage", "hedging", "max_lot", "max_open_positions", "max_daily_loss", "allowed_symbols",
            "max_trades_per_hour", "is_current", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "login", "server", "kind", "host", "status", "status_reason", "ea_status", "heartbeat_at",
            "balance", "equity", "margin", "free_margin", "profit", "currency", "leverage", "hedging",
            "is_current", "created_at",
        ]  # fmt: skip

    def validate_allowed_symbols(self, value):
        if not isinstance(value, list) or not all(isinstance(s, str) and 0 < len(s) <= 40 for s in value):
            raise ValidationError("A list of symbol names (1 to 40 characters each).")
        if len(value) > 500:
            raise ValidationError("At most 500 symbols.")
        try:
            return sorted({symbol_normalize(s) for s in value})
        except SymbolError as error:
            raise ValidationError(str(error)) from None


class ConnectSerializer(serializers.Serializer):
    login = serializers.RegexField(LOGIN_PATTERN, error_messages={"invalid": LOGIN_MESSAGE})
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    server = serializers.CharField(max_length=100)
    broker = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    kind = serializers.ChoiceField(choices=TradingAccount.Kind.choices, default=TradingAccount.Kind.MT5)
    nickname = serializers.CharField(max_length=60, required=False, default="", allow_blank=True)
    is_demo = serializers.BooleanField(default=True)


class DeleteSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(default=False)


class TerminalUnavailable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The account's terminal cannot answer right now."


def _raise(error: AccountError):
    if error.field:
        raise ValidationError({error.field: [error.message]})
    exception = APIException(error.message)
    exception.status_code = error.status
    raise exception


class AccountViewSet(
    OwnedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    owned_model = TradingAccount
    serializer_class = AccountSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        return account_list(user=self.request.user)

    def perform_update(self, serializer) -> None:
        account_update(account=serializer.instance, **serializer.validated_data)

    @extend_schema(parameters=[DeleteSerializer])
    def destroy(self, request, pk=None):
        account = self.get_object()
        options = DeleteSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        try:
            account_delete(account=account, confirm=options.validated_data["confirm"])
        except AccountError as error:
            _raise(error)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ConnectSerializer, responses={201: AccountSerializer})
    @action(detail=False, methods=["post"])
    def connect(self, request):
        data = ConnectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            account = account_connect(owner=request.user, **data.validated_data)
        except AccountError as error:
            _raise(error)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=AccountSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._instance(request, "start")

    @extend_schema(request=None, responses=AccountSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return self._instance(request, "stop")

    @extend_schema(request=None, responses=AccountSerializer)
    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        return self._instance(request, "restart")

    def _instance(self, request, action_name: str) -> Response:
        try:
            account = account_instance(account=self.get_object(), action=action_name)
        except AccountError as error:
            _raise(error)
        return Response(AccountSerializer(account).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def switch(self, request, pk=None):
        account = self.get_object()
        usage = get_usage(
            request, group="account-switch", key=lambda g, r: str(request.user.pk), rate="10/h", increment=True
        )
        if usage and usage["should_limit"]:
            raise Throttled(wait=usage["time_left"], detail="At most 10 account switches per hour.")
        return Response(AccountSerializer(account_switch(account=account)).data)

    @action(detail=False, methods=["get"])
    def current(self, request):
        account = account_current(user=request.user)
        if account is None:
            raise NotFound("You have no trading accounts yet.")
        return Response(AccountSerializer(account).data)

    @extend_schema(responses=inline_serializer("Position", {"ticket": serializers.IntegerField()}, many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # the terminal's whole list, as it answers
    def positions(self, request, pk=None):
        return Response(as_dicts(self._read("positions")))

    @extend_schema(responses=inline_serializer("Symbol", {"name": serializers.CharField()}, many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # the terminal's whole list, as it answers
    def symbols(self, request, pk=None):
        # One read for all specs: on a host, one round trip through its queue, not one per symbol.
        return Response([vars(info) for info in self._read("symbol_infos")])

    def _read(self, method: str):
        account = self.get_object()
        try:
            return terminal_read(account, method)
        except TerminalError as error:
            raise TerminalUnavailable(f"The terminal cannot answer: {error.message}") from None


class HostSerializer(serializers.ModelSerializer):
    load = serializers.IntegerField(read_only=True)

    class Meta:
        model = TerminalHost
        fields = [
            "id", "name", "queue_name", "kind", "capacity", "load", "online", "heartbeat_at", "cpu_percent",
            "memory_percent", "terminals_running", "instance_root",
        ]  # fmt: skip


class HostViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = HostSerializer
    permission_classes = [IsStaff]

    def get_queryset(self):
        return host_list()


class AssignmentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    host = serializers.SlugRelatedField(slug_field="name", queryset=TerminalHost.objects.all(), allow_null=True)

    class Meta:
        model = TradingAccount
        fields = ["id", "owner", "login", "server", "kind", "status", "host"]
        read_only_fields = ["id", "owner", "login", "server", "kind", "status"]


class AssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Operators move an account to another host (PATCH {"host": "<name>"})."""

    serializer_class = AssignmentSerializer
    permission_classes = [IsStaff]
    http_method_names = ["get", "patch"]

    def get_queryset(self):
        return TradingAccount.objects.alive().select_related("owner", "host").order_by("pk")

    def perform_update(self, serializer) -> None:
        try:
            account_move(account=serializer.instance, host=serializer.validated_data.get("host"))
        except AccountError as error:
            _raise(error)


class SymbolMappingSerializer(serializers.ModelSerializer):
    account = OwnedPrimaryKeyRelatedField(TradingAccount)

    class Meta:
        model = SymbolMapping
        fields = ["id", "account", "requested", "broker_symbol", "source", "created_at"]
        read_only_fields = ["id", "source", "created_at"]


class MappingFilterSerializer(serializers.Serializer):
    account = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class SymbolMappingViewSet(
    OwnedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Custom mappings a trader sets, and the ones learned from matching (filter ?account=)."""

    owned_model = SymbolMapping
    serializer_class = SymbolMappingSerializer

    def get_queryset(self):
        mappings = SymbolMapping.objects.owned_by(self.request.user).filter(account__deleted_at__isnull=True)
        filters = MappingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        if account := filters.validated_data.get("account"):
            mappings = mappings.filter(account_id=account)
        return mappings.order_by("account_id", "requested")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            mapping = symbol_mapping_add(**serializer.validated_data)
        except AccountError as error:
            _raise(error)
        return Response(SymbolMappingSerializer(mapping, context=self.get_serializer_context()).data, status=201)

    def perform_destroy(self, instance) -> None:
        symbol_mapping_delete(account=instance.account, requested=instance.requested)
