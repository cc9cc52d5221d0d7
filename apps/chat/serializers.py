from rest_framework import serializers

from apps.core.serializers import StrictSerializerMixin
from apps.providers.registry import PROVIDERS

CONTENT_MAX = 20_000
MESSAGES_MAX = 20


class ChatInMessageSerializer(StrictSerializerMixin, serializers.Serializer):
    role = serializers.ChoiceField(choices=["user"])
    content = serializers.CharField(max_length=CONTENT_MAX, trim_whitespace=False)


class ChatRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    messages = ChatInMessageSerializer(many=True, min_length=1, max_length=MESSAGES_MAX)
    conversation_id = serializers.IntegerField(required=False, min_value=1)
    provider = serializers.ChoiceField(choices=sorted(PROVIDERS), required=False)
    model = serializers.CharField(required=False, max_length=100)


class ChatOutMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)


class ChatToolCallSerializer(serializers.Serializer):
    tool_name = serializers.CharField()
    arguments = serializers.JSONField()
    success = serializers.BooleanField()
    result = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(required=False)


class TokenUsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class ChatResponseSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    message = ChatOutMessageSerializer()
    tool_calls = ChatToolCallSerializer(many=True)
    provider = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    usage = TokenUsageSerializer()
    offline = serializers.BooleanField()
    offline_reason = serializers.CharField(required=False)
    retry_after = serializers.IntegerField(required=False, allow_null=True)
    notices = serializers.ListField(child=serializers.CharField(), required=False)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StoredMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    tool_calls = serializers.JSONField()
    tool_call_id = serializers.CharField(allow_blank=True)
    provider = serializers.CharField(allow_blank=True)
    model = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ConversationDetailSerializer(ConversationSerializer):
    messages = StoredMessageSerializer(many=True)
