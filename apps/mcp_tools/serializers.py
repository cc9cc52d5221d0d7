from rest_framework import serializers

from apps.core.serializers import StrictSerializerMixin


class ToolInvokeSerializer(StrictSerializerMixin, serializers.Serializer):
    tool_name = serializers.CharField(max_length=100)
    # Any JSON here: the pipeline validates it against the tool's schema and answers with schema errors.
    parameters = serializers.JSONField(required=False, default=dict)
    user_id = serializers.IntegerField(required=False, min_value=1)


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    input_schema = serializers.JSONField()
    output_schema = serializers.JSONField(allow_null=True)
    annotations = serializers.JSONField()
    required_scope = serializers.CharField()


class ToolInvokeResultSerializer(serializers.Serializer):
    tool_name = serializers.CharField()
    success = serializers.BooleanField()
    result = serializers.JSONField(allow_null=True)
    cached = serializers.BooleanField()
    duration_ms = serializers.FloatField()
    invocation_id = serializers.CharField()
    error = serializers.JSONField(allow_null=True)
