"""/api/v1/alerts/ and /api/v1/alert-deliveries/: what was raised and how it was delivered."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from mt5saas.api import OwnedViewSetMixin

from . import selectors, services
from .models import Alert, Delivery


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "kind", "title", "text", "data", "repeats", "suppressed", "created_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "alert", "channel", "target", "status", "attempts", "last_error", "next_attempt_at",
                  "created_at", "updated_at", "sent_at"]  # fmt: skip
        read_only_fields = fields


class AlertViewSet(OwnedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    owned_model = Alert
    serializer_class = AlertSerializer

    def get_queryset(self):
        return selectors.alert_list(user=self.request.user)


class DeliveryViewSet(OwnedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    owned_model = Delivery
    serializer_class = DeliverySerializer

    def get_queryset(self):
        status = self.request.query_params.get("status")
        if status is not None and status not in Delivery.Status.values:
            raise ValidationError({"status": [f"One of {', '.join(Delivery.Status.values)}."]})
        return selectors.delivery_list(user=self.request.user, status=status)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        try:
            delivery = services.delivery_retry(delivery=self.get_object())
        except services.AlertsError as error:
            raise ValidationError({"detail": error.message}) from None
        return Response(self.get_serializer(delivery).data)
