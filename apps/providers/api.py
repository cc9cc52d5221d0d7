"""The caller's AI provider preferences: the order providers are tried in, and the model per provider."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import TokenScopePermission
from apps.accounts.scopes import AI_INVOKE
from apps.providers.serializers import AIPreferencesSerializer, AIPreferencesUpdateSerializer
from apps.providers.services import ai_preferences_get, ai_preferences_update


class AIPreferencesView(APIView):
    """GET the caller's provider order and models; PUT changes either or both (switching providers)."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_scope = AI_INVOKE
    write_scope = AI_INVOKE

    @extend_schema(responses=AIPreferencesSerializer)
    def get(self, request: Request) -> Response:
        return Response(ai_preferences_get(user=request.user).as_dict())

    @extend_schema(request=AIPreferencesUpdateSerializer, responses=AIPreferencesSerializer)
    def put(self, request: Request) -> Response:
        serializer = AIPreferencesUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preferences = ai_preferences_update(
            user=request.user, provider_order=data.get("provider_order"), models=data.get("models")
        )
        return Response(preferences.as_dict())
