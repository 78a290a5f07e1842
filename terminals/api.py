"""/api/v1/accounts/ and the operators' /api/admin/hosts and /api/admin/assignments."""

from django_ratelimit.core import get_usage
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.response import Response

from mt5saas.api import IsStaff, KnownFieldsOnly, OwnedPrimaryKeyRelatedField, OwnedViewSetMixin

from .contract import (
    ALIASES,
    FRACTION_HINT,
    AccountTypeField,
    DefaultField,
    RiskLimitsField,
    fraction_parse,
    same_meaning_check,
)
from .drivers.base import TerminalError
from .errors import AccountError
from .gateway import as_dicts, terminal_read
from .models import LOGIN_MESSAGE, LOGIN_PATTERN, SymbolMapping, TerminalHost, TradingAccount
from .pool import LAST_HEARTBEAT, EAStatusField
from .selectors import account_current, account_list, host_list
from .services import (
    account_connect,
    account_delete,
    account_edit,
    account_instance,
    account_move,
    account_switch,
    symbol_mapping_add,
)
from .symbols import SymbolError, symbol_mapping_delete, symbol_normalize


class AccountSerializer(KnownFieldsOnly, serializers.ModelSerializer):
    """An MT5 account: today's fields and the accounts contract's names for some of them."""

    host = serializers.CharField(source="host.name", default=None, read_only=True, allow_null=True)
    # The accounts contract's names (terminals.contract), beside today's.
    account_name = serializers.CharField(source="nickname", max_length=60, required=False, allow_blank=True)
    broker_name = serializers.CharField(source="broker", max_length=100, required=False, allow_blank=True)
    account_type = AccountTypeField()
    is_active = serializers.BooleanField(required=False, help_text="false stops the terminal, true starts it")
    is_default = DefaultField(help_text="orders naming no account go to it; true makes it so")
    risk_limits = RiskLimitsField(help_text="fractions of the balance (0.03 = 3 %) and a number of positions")

    class Meta:
        model = TradingAccount
        fields = [
            "id", "login", "server", "broker", "kind", "nickname", "is_demo", "host", "status", "status_reason",
            "ea_status", "ea_name", "heartbeat_at", "balance", "equity", "margin", "free_margin", "profit", "currency",
            "leverage", "hedging", "max_lot", "max_open_positions", "max_daily_loss", "max_daily_loss_fraction",
            "max_trade_risk_fraction", "allowed_symbols", "max_trades_per_hour", "is_current", "created_at",
            "account_name", "broker_name", "account_type", "is_active", "is_default", "risk_limits",
        ]  # fmt: skip
        read_only_fields = [
            "id", "login", "server", "kind", "host", "status", "status_reason", "ea_status", "ea_name", "heartbeat_at",
            "balance", "equity", "margin", "free_margin", "profit", "currency", "leverage", "hedging", "is_current",
            "created_at",
        ]  # fmt: skip
        extra_kwargs = {
            "max_daily_loss": {"help_text": "today's loss that stops new positions, in the account currency"},
            "max_daily_loss_fraction": {"help_text": FRACTION_HINT},
            "max_trade_risk_fraction": {"help_text": f"loss at the stop loss of one new position: {FRACTION_HINT}"},
        }

    def validate_allowed_symbols(self, value):
        if not isinstance(value, list) or not all(isinstance(s, str) and 0 < len(s) <= 40 for s in value):
            raise ValidationError("A list of symbol names (1 to 40 characters each).")
        if len(value) > 500:
            raise ValidationError("At most 500 symbols.")
        try:
            return sorted({symbol_normalize(s) for s in value})
        except SymbolError as error:
            raise ValidationError(str(error)) from None

    def validate_max_daily_loss(self, value):
        # A contract client's 0.03 meant 3 %, not three cents.
        if value is not None and value < 1:
            raise ValidationError(
                "An amount in the account currency, at least 1; for a share of the balance use "
                "max_daily_loss_fraction or risk_limits.max_daily_loss (0.03 = 3 %)."
            )
        return value

    def validate_max_daily_loss_fraction(self, value):
        return fraction_parse(value)

    def validate_max_trade_risk_fraction(self, value):
        return fraction_parse(value)

    def validate(self, attrs):
        same_meaning_check(self, ALIASES)
        return attrs


class ConnectSerializer(KnownFieldsOnly, serializers.Serializer):
    """An account to register: its credentials (checked on a host) and how to show it."""

    login = serializers.RegexField(LOGIN_PATTERN, error_messages={"invalid": LOGIN_MESSAGE})
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    server = serializers.CharField(max_length=100)
    # No defaults here: a contract alias (below) may carry the value; account_connect has them.
    broker = serializers.CharField(max_length=100, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=TradingAccount.Kind.choices, default=TradingAccount.Kind.MT5)
    nickname = serializers.CharField(max_length=60, required=False, allow_blank=True)
    is_demo = serializers.BooleanField(required=False, help_text="default true; or account_type")
    account_name = serializers.CharField(source="nickname", max_length=60, required=False, allow_blank=True)
    broker_name = serializers.CharField(source="broker", max_length=100, required=False, allow_blank=True)
    account_type = AccountTypeField(help_text="demo or live, stored as is_demo")
    set_as_default = serializers.BooleanField(source="make_current", default=False)

    def validate(self, attrs):
        same_meaning_check(self, ALIASES)
        return attrs


class ConnectResponseSerializer(AccountSerializer):
    """Today's body (the account's fields) and the contract's envelope around the same account."""

    success = serializers.BooleanField(default=True)
    account_id = serializers.IntegerField()
    account = AccountSerializer()

    class Meta(AccountSerializer.Meta):
        fields = [*AccountSerializer.Meta.fields, "success", "account_id", "account"]


class ListShapeSerializer(serializers.Serializer):
    shape = serializers.ChoiceField(
        choices=["page", "contract"],
        default="page",
        help_text='page: {"count", "next", "previous", "results"}; contract: {"accounts": [...]}, all of them',
    )


class DeleteSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(default=False)


class TerminalUnavailable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The account's terminal cannot answer right now."


def _raise(error: AccountError):
    if error.field:
        raise ValidationError({error.field: [error.message]})
    exception = APIException(error.message)
    exception.status_code = (
        status.HTTP_409_CONFLICT if error.code == AccountError.CONFLICT else status.HTTP_400_BAD_REQUEST
    )
    raise exception


class AccountSchema(AutoSchema):
    # The list answers one of two bodies (?shape=): its schema names both as they are,
    # instead of drf-spectacular putting the pair of them into pages.
    def _is_list_view(self, serializer=None) -> bool:
        return False if getattr(self.view, "action", None) == "list" else super()._is_list_view(serializer)


class AccountViewSet(
    OwnedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    owned_model = TradingAccount
    serializer_class = AccountSerializer
    http_method_names = ["get", "post", "put", "patch", "delete"]
    schema = AccountSchema()

    def get_queryset(self):
        return account_list(user=self.request.user)

    @extend_schema(
        operation_id="api_v1_accounts_list",
        parameters=[
            ListShapeSerializer,
            OpenApiParameter("page", int, description="page: which page"),
            OpenApiParameter("page_size", int, description="page: rows a page, at most 500"),
        ],
        responses=PolymorphicProxySerializer(
            "AccountListShapes",
            serializers=[
                inline_serializer("PaginatedAccounts", {
                    "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True), "results": AccountSerializer(many=True),
                }),
                inline_serializer("ContractAccounts", {"accounts": AccountSerializer(many=True)}),
            ],
            resource_type_field_name=None,
        ),
    )  # fmt: skip
    def list(self, request, *args, **kwargs):
        options = ListShapeSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        if options.validated_data["shape"] == "contract":
            return Response({"accounts": self.get_serializer(self.get_queryset(), many=True).data})
        return super().list(request, *args, **kwargs)

    def perform_update(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        try:
            account_edit(
                account=serializer.instance,
                active=fields.pop("is_active", None),
                current=fields.pop("is_current", None),
                **fields,
            )
        except AccountError as error:
            _raise(error)

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

    @extend_schema(request=ConnectSerializer, responses={201: ConnectResponseSerializer})
    @action(detail=False, methods=["post"])
    def connect(self, request):
        data = ConnectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            account = account_connect(owner=request.user, **data.validated_data)
        except AccountError as error:
            _raise(error)
        body = self.get_serializer(account).data
        return Response(
            {**body, "success": True, "account_id": account.pk, "account": body}, status=status.HTTP_201_CREATED
        )

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
        return Response(self.get_serializer(account).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def switch(self, request, pk=None):
        account = self.get_object()
        usage = get_usage(
            request, group="account-switch", key=lambda g, r: str(request.user.pk), rate="10/h", increment=True
        )
        if usage and usage["should_limit"]:
            raise Throttled(wait=usage["time_left"], detail="At most 10 account switches per hour.")
        return Response(self.get_serializer(account_switch(account=account)).data)

    @action(detail=False, methods=["get"])
    def current(self, request):
        account = account_current(user=request.user)
        if account is None:
            raise NotFound("You have no trading accounts yet.")
        return Response(self.get_serializer(account).data)

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
    staff_model = TerminalHost

    def get_queryset(self):
        return host_list()


class AssignmentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    host = serializers.SlugRelatedField(slug_field="name", queryset=TerminalHost.objects.all(), allow_null=True)
    # The pool design's keys for what its dashboard shows of each assignment.
    eaStatus = EAStatusField()
    lastHeartbeat = serializers.DateTimeField(source="heartbeat_at", read_only=True, help_text=LAST_HEARTBEAT)

    class Meta:
        model = TradingAccount
        fields = [
            "id", "owner", "login", "server", "kind", "status", "host", "balance", "equity", "profit", "margin",
            "eaStatus", "lastHeartbeat",
        ]  # fmt: skip
        read_only_fields = [
            "id", "owner", "login", "server", "kind", "status", "balance", "equity", "profit", "margin",
        ]  # fmt: skip


class AssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Operators move an account to another host (PATCH {"host": "<name>"})."""

    serializer_class = AssignmentSerializer
    permission_classes = [IsStaff]
    staff_model = TradingAccount  # moving an account is changing it, as in its admin page
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
