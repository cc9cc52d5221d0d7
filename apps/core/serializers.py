from typing import Any

from rest_framework import serializers


class StrictSerializerMixin:
    """Reject fields the serializer does not know, instead of silently dropping them.

    A typo such as {"titel": ...} would otherwise succeed and lose the user's data. Unknown
    fields are reported together with any other field errors.
    """

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, dict):
            known = {name for name, field in self.fields.items() if not field.read_only}
            errors = {name: ["Unknown field."] for name in sorted(set(data) - known)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if errors and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from None
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value
