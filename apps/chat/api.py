"""The chat door: POST /api/chat, and the caller's stored conversations."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import TokenScopePermission
from apps.accounts.principal import principal_from_rest
from apps.accounts.scopes import AI_INVOKE
from apps.chat import services
from apps.chat.serializers import (
    ChatRequestSerializer,
    ChatResponseSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
)
from apps.core.schema import error_responses


class ChatView(APIView):
    """Send messages; the model may call your todo tools (each through the pipeline) before it answers."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_scope = AI_INVOKE
    write_scope = AI_INVOKE

    # 404: a conversation_id that is not the caller's; 422: the provider refused the request.
    @extend_schema(request=ChatRequestSerializer, responses={200: ChatResponseSerializer, **error_responses(404, 422)})
    def post(self, request: Request) -> Response:
        serializer = ChatRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reply = services.chat_send(
            principal=principal_from_rest(request),
            messages=[dict(m) for m in data["messages"]],
            conversation_id=data.get("conversation_id"),
            provider=data.get("provider"),
            model=data.get("model"),
        )
        return Response(reply.as_dict())


class ConversationListView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_scope = AI_INVOKE
    write_scope = AI_INVOKE

    @extend_schema(responses=ConversationSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = services.conversations_list(user=request.user)
        return Response(ConversationSerializer(rows, many=True).data)


class ConversationDetailView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_scope = AI_INVOKE
    write_scope = AI_INVOKE

    @extend_schema(
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses=ConversationDetailSerializer,
    )
    def get(self, request: Request, id: str) -> Response:
        conversation = services.conversation_get(user=request.user, conversation_id=id)
        data = ConversationSerializer(conversation).data
        data["messages"] = [
            {
                "role": m.role,
                "content": m.content,
                "tool_calls": m.tool_calls,
                "tool_call_id": m.tool_call_id,
                "provider": m.provider,
                "model": m.model,
                "created_at": m.created_at,
            }
            for m in services.conversation_messages(conversation=conversation)
        ]
        return Response(ConversationDetailSerializer(data).data)
