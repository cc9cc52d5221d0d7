from rest_framework import serializers

from apps.core.schema import enum_list_field
from apps.core.serializers import StrictSerializerMixin
from apps.providers.registry import PROVIDERS

# One optional field per provider in the registry: the schema lists every provider by name.
ModelsByProviderSerializer = type(
    "ModelsByProviderSerializer",
    (serializers.Serializer,),
    {name: serializers.CharField(required=False, max_length=100) for name in PROVIDERS},
)


class AIPreferencesSerializer(serializers.Serializer):
    provider_order = enum_list_field(sorted(PROVIDERS), help_text="Providers to try, first to last.")
    models = ModelsByProviderSerializer(help_text="The model to ask of each provider.")


class AIPreferencesUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    provider_order = enum_list_field(sorted(PROVIDERS), required=False, max_length=len(PROVIDERS))
    models = serializers.DictField(child=serializers.CharField(max_length=100), required=False)
