"""The caller's own limits: GET /api/quotas/limits."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.principal import principal_from_rest
from apps.accounts.scopes import PROFILE_READ
from apps.quotas.models import Notification
from apps.quotas.overview import limits_effective, usage_summary
from apps.quotas.serializers import LimitsSerializer, NotificationSerializer, UsageSerializer


class LimitsView(APIView):
    """The rate limits that apply to the caller now, and where each comes from."""

    read_scope = PROFILE_READ

    @extend_schema(responses=LimitsSerializer)
    def get(self, request: Request) -> Response:
        return Response({"limits": limits_effective(principal=principal_from_rest(request))})


class UsageView(APIView):
    """The caller's use this day and month per provider, model and tool, and each budget's standing."""

    read_scope = PROFILE_READ

    @extend_schema(responses=UsageSerializer)
    def get(self, request: Request) -> Response:
        return Response(usage_summary(user=request.user))


class NotificationListView(ListAPIView):
    """The caller's notifications (budget warnings), newest first, paginated."""

    read_scope = PROFILE_READ
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # the schema generator reads the model from here

    def get_queryset(self):
        return Notification.objects.filter(user=self.request.user)
