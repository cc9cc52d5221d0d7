from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.core.serializers import StrictSerializerMixin
from apps.keys.models import LABEL_MAX_LENGTH, ProviderKey
from apps.keys.services import API_KEY_MAX_LENGTH
from apps.providers.registry import PROVIDERS

FINGERPRINT_SHOWN = 16


class ProviderKeySerializer(serializers.ModelSerializer):
    """A key as anyone may see it: masked, with a short fingerprint; never the secret or ciphertext."""

    status = serializers.CharField(source="effective_status", read_only=True)
    fingerprint = serializers.SerializerMethodField()
    # Not a URLField here: empty (not a URI) for providers with a fixed API.
    base_url = serializers.CharField(
        read_only=True, help_text="Only for providers reached at the user's own server; empty otherwise."
    )

    class Meta:
        model = ProviderKey
        fields = [
            "id",
            "provider",
            "label",
            "base_url",
            "mask",
            "fingerprint",
            "status",
            "is_default",
            "expires_at",
            "expiry_warned_at",
            "last_used_at",
            "last_validated_at",
            "last_validation_result",
            "last_validation_detail",
            "replaced_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fingerprint(self, obj: ProviderKey) -> str:
        return obj.fingerprint[:FINGERPRINT_SHOWN]


class ProviderKeyCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    # DRF's default message quotes the value, and people paste keys into the wrong field.
    provider = serializers.ChoiceField(
        choices=sorted(PROVIDERS), error_messages={"invalid_choice": f"Must be one of: {', '.join(sorted(PROVIDERS))}."}
    )
    # trim_whitespace off: the service strips and checks, with messages that never echo the key.
    api_key = serializers.CharField(write_only=True, max_length=API_KEY_MAX_LENGTH, trim_whitespace=False)
    label = serializers.CharField(max_length=LABEL_MAX_LENGTH, required=False, allow_blank=True)
    base_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    is_default = serializers.BooleanField(required=False, allow_null=True, default=None)
    validate = serializers.BooleanField(required=False, default=False)
    user_id = serializers.IntegerField(required=False, min_value=1)


class ProviderKeyRotateSerializer(StrictSerializerMixin, serializers.Serializer):
    api_key = serializers.CharField(write_only=True, max_length=API_KEY_MAX_LENGTH, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    validate = serializers.BooleanField(required=False, default=False)


def validation_payload(outcome) -> dict | None:
    if outcome is None:
        return None
    return {
        "result": outcome.result,
        "detail": outcome.detail,
        "status_code": outcome.status_code,
        "retry_after": outcome.retry_after,
    }


class ValidationOutcomeSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["valid", "invalid", "unreachable", "error"])
    detail = serializers.CharField()
    status_code = serializers.IntegerField(allow_null=True)
    retry_after = serializers.IntegerField(
        allow_null=True, help_text="Seconds the provider asked to wait (a 429 or 5xx with Retry-After), if readable."
    )


class ProviderKeyResponseSerializer(serializers.Serializer):
    """Documents the response envelope of create, retrieve, rotate, validate and default."""

    success = serializers.BooleanField()
    message = serializers.CharField(required=False)
    key = ProviderKeySerializer()
    validation = ValidationOutcomeSerializer(required=False)
    replaces = serializers.IntegerField(required=False, help_text="rotate: the id of the key this one replaced")


# An envelope, not a list: without many=False the schema would call it an array of envelopes.
@extend_schema_serializer(many=False)
class ProviderKeyListResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    keys = ProviderKeySerializer(many=True)


class MessageResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class KeyFormatSerializer(serializers.Serializer):
    prefixes = serializers.ListField(child=serializers.CharField())
    min_length = serializers.IntegerField()
    max_length = serializers.IntegerField()
    characters = serializers.CharField()
    description = serializers.CharField()


class ProviderSpecSerializer(serializers.Serializer):
    """Documents apps.providers.registry.ProviderSpec.as_dict."""

    name = serializers.CharField()
    display_name = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField())
    key_format = KeyFormatSerializer()
    docs_url = serializers.CharField()
    keys_url = serializers.CharField()
    default_base_url = serializers.CharField(allow_null=True)
    requires_base_url = serializers.BooleanField()


class ProvidersResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    providers = ProviderSpecSerializer(many=True)
