from typing import Any

from rest_framework import serializers

NOT_A_STRING = "Not a valid string."


def _text_field(field: serializers.Field) -> bool:
    return isinstance(field, serializers.CharField)


def _type_errors(fields: dict[str, serializers.Field], data: dict[str, Any]) -> dict[str, Any]:
    """Text fields (and lists of text) given something other than a string, e.g. {"tags": [0]}.

    DRF's CharField turns 0 into "0"; the schema says string, and a number where text belongs is
    a client's mistake to report, not to guess at.
    """
    errors: dict[str, Any] = {}
    for name, field in fields.items():
        if field.read_only or name not in data:
            continue
        value = data[name]
        if _text_field(field) and value is not None and not isinstance(value, str):
            errors[name] = [NOT_A_STRING]
        elif isinstance(field, serializers.ListField) and _text_field(field.child) and isinstance(value, list):
            items = {index: [NOT_A_STRING] for index, item in enumerate(value) if not isinstance(item, str)}
            if items:
                errors[name] = items
        elif isinstance(field, serializers.DictField) and _text_field(field.child) and isinstance(value, dict):
            entries = {key: [NOT_A_STRING] for key, item in value.items() if not isinstance(item, str)}
            if entries:
                errors[name] = entries
    return errors


class StrictSerializerMixin:
    """Reject fields the serializer does not know, and non-strings where text belongs, instead of guessing.

    A typo such as {"titel": ...} would otherwise succeed and lose the user's data. Unknown
    fields are reported together with any other field errors. The OpenAPI schema says so of every
    strict request body (`additionalProperties: false`, apps.core.schema).
    """

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, dict):
            known = {name for name, field in self.fields.items() if not field.read_only}
            errors = {name: ["Unknown field."] for name in sorted(set(data) - known)}
            errors.update(_type_errors(self.fields, data))
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if errors and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from None
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value
