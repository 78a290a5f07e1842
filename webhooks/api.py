"""/api/v1/signals/ (every alert received) and POST /api/v1/orders/ (placing orders by hand or script)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from mt5saas.api import OwnedViewSetMixin

from .answers import accepted_answer, error_answer
from .errors import SignalError
from .models import Signal
from .services import signal_receive


class OrderPlacing:
    """POST /api/v1/orders/: an order placed through the signal pipeline. mt5saas.urls mounts it
    on terminals' order viewset, which lists and clears the orders."""

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
        try:
            # The accounts API's contract: trading endpoints use the current account unless told otherwise.
            accepted = signal_receive(user=request.user, data=dict(request.data), source=source, current_account=True)
        except SignalError as error:
            reply_status, body = error_answer(error)
        else:
            reply_status, body = accepted_answer(accepted)
        return Response(body, status=reply_status)


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
