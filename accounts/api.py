"""Staff-only JSON under /api/admin/ (operators see every tenant here and in the admin)."""

from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.api import IsStaff

from .models import User
from .selectors import user_list
from .services import CannotChangeSuperuser, CannotDisableSelf, user_set_active


class AdminUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "name",
            "picture_url",
            "is_active",
            "is_staff",
            "is_superuser",
            "date_joined",
            "last_login",
        ]
        read_only_fields = fields


class AdminUserFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=150, default="")
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class AdminUserViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AdminUserSerializer
    permission_classes = [IsStaff]
    staff_model = User
    staff_acts = {"toggle": "change"}

    def get_queryset(self):
        filters = AdminUserFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return user_list(**filters.validated_data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def toggle(self, request, pk=None):
        user = self.get_object()
        try:
            user = user_set_active(user=user, active=not user.is_active, by=request.user)
        except CannotDisableSelf as exc:
            raise serializers.ValidationError(str(exc)) from None
        except CannotChangeSuperuser as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        return Response(self.get_serializer(user).data)


class AdminStatsView(APIView):
    """Each app contributes its figures through settings.ADMIN_STATS."""

    permission_classes = [IsStaff]
    staff_model = None  # counts only: any operator, as the admin's overview

    @extend_schema(responses=dict[str, int])
    def get(self, request):
        stats: dict[str, int | float] = {}
        for path in settings.ADMIN_STATS:
            stats.update(import_string(path)())
        return Response(stats)
