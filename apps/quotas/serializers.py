from rest_framework import serializers

from apps.quotas.models import Notification


class EffectiveLimitSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What refusals call this limit: 'user', 'tool <name>', 'provider'.")
    family = serializers.ChoiceField(choices=["user", "tool", "anonymous", "provider"])
    rate = serializers.CharField(help_text="Sustained rate as requests/seconds, e.g. '120/60s'.")
    burst = serializers.IntegerField(help_text="Requests that may come at once before the rate applies.")
    source = serializers.CharField(help_text="Where it comes from: override, role, tool policy, setting.")
    applies_to = serializers.CharField()
    when_redis_down = serializers.ChoiceField(choices=["closed", "local"])


class LimitsSerializer(serializers.Serializer):
    limits = EffectiveLimitSerializer(many=True)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "data", "created_at", "read_at"]
        read_only_fields = fields


class UsageSerializer(serializers.Serializer):
    periods = serializers.DictField(help_text="day and month: start and reset_at (UTC).")
    providers = serializers.ListField(child=serializers.DictField(), help_text="calls, tokens, cost per provider.")
    models = serializers.ListField(child=serializers.DictField(), help_text="calls, tokens, cost per model.")
    tools = serializers.ListField(child=serializers.DictField(), help_text="tool calls per tool.")
    budgets = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "limit, used (what the usage ledger counted this period), reserved (held by calls in progress), "
            "remaining (limit - used - reserved), reset_at and source per budget."
        ),
    )
