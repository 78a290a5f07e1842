"""The routes of the terminal-pool design, for the dashboard written against it: a trader's
accounts (GET /api/user/accounts) and the operators' agents, which are our hosts
(GET /api/admin/pool-agents). Its keys are camelCase; its money figures are strings as on
every other route."""

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.api import IsStaff

from .contract import AccountTypeField, DefaultField
from .models import EAStatus, TerminalHost, TradingAccount
from .selectors import account_list, host_list


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "what the account's EA last said of itself; null before it said anything (not an EA account)",
        "properties": {"loaded": {"type": "boolean"}, "running": {"type": "boolean"}, "name": {"type": "string"}},
    }
)
class EAStatusField(serializers.Field):
    """{"loaded", "running", "name"} from the EA's own status file (docs/ea-protocol.md)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, account: TradingAccount) -> dict | None:
        if not account.ea_status:
            return None
        return {
            "loaded": account.ea_status != EAStatus.UNLOADED,
            "running": account.ea_status == EAStatus.RUNNING,
            "name": account.ea_name,
        }


LAST_HEARTBEAT = "the last time the terminal answered with its figures (for an EA account: its EA's status file)"


class PoolAccountSerializer(serializers.ModelSerializer):
    # The design's camelCase keys for today's columns.
    accountName = serializers.CharField(source="nickname")
    brokerName = serializers.CharField(source="broker")
    accountType = AccountTypeField(read_only=True)
    statusReason = serializers.CharField(source="status_reason")
    isActive = serializers.BooleanField(source="is_active")
    isDefault = DefaultField(read_only=True)
    freeMargin = serializers.DecimalField(source="free_margin", max_digits=18, decimal_places=2)
    agent = serializers.CharField(source="host.name", default=None, allow_null=True)
    eaStatus = EAStatusField()
    lastHeartbeat = serializers.DateTimeField(source="heartbeat_at", help_text=LAST_HEARTBEAT)

    class Meta:
        model = TradingAccount
        fields = [
            "id", "login", "server", "accountName", "brokerName", "accountType", "kind", "status", "statusReason",
            "isActive", "isDefault", "balance", "equity", "margin", "freeMargin", "profit", "currency", "leverage",
            "agent", "eaStatus", "lastHeartbeat",
        ]  # fmt: skip
        read_only_fields = fields


class UserAccountsView(APIView):
    """The caller's accounts, as the pool design's dashboard reads them."""

    owned_model = TradingAccount  # the caller's rows only (tests/test_isolation.py probes it)

    @extend_schema(responses=inline_serializer("PoolAccounts", {"accounts": PoolAccountSerializer(many=True)}))
    def get(self, request):
        accounts = account_list(user=request.user)
        return Response({"accounts": PoolAccountSerializer(accounts, many=True, context={"request": request}).data})


class PoolAgentSerializer(serializers.ModelSerializer):
    queueName = serializers.CharField(source="queue_name")
    status = serializers.SerializerMethodField()
    load = serializers.IntegerField(help_text="accounts assigned to it")
    terminalsRunning = serializers.IntegerField(source="terminals_running")
    cpuPercent = serializers.FloatField(source="cpu_percent", allow_null=True)
    memoryPercent = serializers.FloatField(source="memory_percent", allow_null=True)
    lastHeartbeat = serializers.DateTimeField(source="heartbeat_at", allow_null=True)
    instanceRoot = serializers.CharField(source="instance_root")

    class Meta:
        model = TerminalHost
        fields = [
            "id", "name", "queueName", "kind", "status", "online", "capacity", "load", "terminalsRunning",
            "cpuPercent", "memoryPercent", "lastHeartbeat", "instanceRoot",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, host: TerminalHost) -> str:
        return "online" if host.online else "offline"


class PoolAgentsView(APIView):
    """Every host, as the pool design's agents: its queue, load against capacity, heartbeat."""

    permission_classes = [IsStaff]
    staff_model = TerminalHost

    @extend_schema(responses=inline_serializer("PoolAgents", {"agents": PoolAgentSerializer(many=True)}))
    def get(self, request):
        return Response({"agents": PoolAgentSerializer(host_list(), many=True).data})
