from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.audit.integrity import INTEGRITY_STATES
from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters
from apps.core.request_context import DOORS
from apps.core.serializers import StrictSerializerMixin


class AuditQuerySerializer(StrictSerializerMixin, serializers.Serializer):
    """The filters every audit read shares; unknown ones are refused (400), not ignored."""

    since = serializers.DateTimeField(required=False, help_text="From this time (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Up to this time (exclusive).")
    category = serializers.ChoiceField(choices=AuditEvent.Category.choices, required=False)
    action = serializers.CharField(max_length=80, required=False)
    outcome = serializers.ChoiceField(choices=AuditEvent.Outcome.choices, required=False)
    door = serializers.ChoiceField(choices=DOORS, required=False)
    tool = serializers.CharField(max_length=64, required=False)
    provider = serializers.CharField(max_length=64, required=False)
    actor = serializers.CharField(max_length=150, required=False, help_text="User id or name (auditors, operators).")
    request_id = serializers.CharField(max_length=64, required=False)
    integrity = serializers.ChoiceField(
        choices=INTEGRITY_STATES,
        required=False,
        help_text=(
            "`forged`: events the sealer set aside and unsealed events whose MAC does not verify; "
            "`pending`: unsealed events whose MAC verifies; `sealed`: events in the chain."
        ),
    )

    def filters(self) -> AuditFilters:
        return AuditFilters(**self.validated_data_for(AuditFilters.__dataclass_fields__))

    def validated_data_for(self, names: Any) -> dict[str, Any]:
        return {name: value for name, value in self.validated_data.items() if name in names}


class AuditLogQuerySerializer(AuditQuerySerializer):
    cursor = serializers.IntegerField(min_value=1, required=False, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class AuditExportQuerySerializer(AuditQuerySerializer):
    format = serializers.ChoiceField(choices=["csv", "ndjson"], default="ndjson")


class AuditReportQuerySerializer(StrictSerializerMixin, serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Default: seven days before `until`.")
    until = serializers.DateTimeField(required=False, help_text="Default: now.")


class AuditLogSerializer(serializers.Serializer):
    """One event as the API shows it (stored masked; the chain columns stay with the verifier)."""

    id = serializers.IntegerField()
    integrity = serializers.ChoiceField(
        choices=INTEGRITY_STATES,
        help_text=(
            "`sealed`: in the chain, its seal holds; `pending`: not sealed yet, the application's MAC "
            "verifies; `forged`: the application did not write it as it stands (set aside by the "
            "sealer, or its MAC or seal does not verify)."
        ),
    )
    created_at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor_label = serializers.CharField()
    actor_type = serializers.CharField()
    token_id = serializers.IntegerField(allow_null=True)
    subject_id = serializers.IntegerField(allow_null=True)
    category = serializers.CharField()
    action = serializers.CharField()
    outcome = serializers.CharField()
    error_code = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    data = serializers.JSONField()
    request_id = serializers.CharField()
    client_address = serializers.CharField()
    user_agent = serializers.CharField()
    door = serializers.CharField()
    duration_ms = serializers.FloatField(allow_null=True)
    tokens = serializers.IntegerField(allow_null=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)


class AuditPaginationSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    next_cursor = serializers.IntegerField(allow_null=True)
    has_more = serializers.BooleanField()


class AuditLogPageSerializer(serializers.Serializer):
    logs = AuditLogSerializer(many=True)
    total_count = serializers.IntegerField()
    pagination = AuditPaginationSerializer()
