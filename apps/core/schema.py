"""The OpenAPI schema's shared parts: the error shape, and the errors every operation can answer.

Every error leaves the API as {"error": {"code", "message", "details"}} (apps.core.errors), so the
schema documents that shape once and GatewayAutoSchema adds it to every operation for each status
that operation can answer, instead of each view listing 401, 429 and 503 by hand:

- 503 and 429 everywhere (a dependency is down; rate limits apply on every door);
- 401 and 403 where the operation takes credentials;
- 400, 413 and 415 where there is a request body, 400 where there are query parameters;
- 404 where the path names a resource, and on a paged list (a page past the last).

A request body whose serializer refuses unknown fields (apps.core.serializers.StrictSerializerMixin)
is documented with `additionalProperties: false`, here once for all of them.

A view documents what only it can answer (409 for a duplicate key, 422 for a key the provider
rejects) with `extend_schema(responses={..., **error_responses(409, 422)})`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from apps.core.serializers import StrictSerializerMixin

JSON = "application/json"

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: (
        "The request is invalid: `validation_error` with the field errors in `details`, `parse_error` for a "
        "body that is not JSON, or a more precise code (`invalid_date`, `arguments_too_large`, ...)."
    ),
    401: "No credentials, or credentials that are malformed, expired or revoked (`not_authenticated`, ...).",
    403: "The caller may not do this: role, token scope (`insufficient_scope`), or a closed feature.",
    404: "No such resource. Another user's resource answers 404 too.",
    409: "The request conflicts with what is stored (a duplicate, a rotated or revoked key, ...).",
    413: "The request body is larger than the server accepts (MAX_REQUEST_BYTES).",
    415: "The request body is not `application/json`.",
    422: "Well-formed, but the provider rejected the key (`key_rejected`).",
    429: "Too many requests or login failures; `Retry-After` says how many seconds to wait.",
    503: "A dependency (database, cache, AI provider) is unavailable; `Retry-After` when a wait is known.",
}
RETRY_AFTER_STATUSES = {429, 503}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, stable: e.g. validation_error, not_found, rate_limited.")
    message = serializers.CharField(help_text="For people; never contains a credential.")
    details = serializers.DictField(
        child=serializers.JSONField(), help_text="Field errors or other specifics; {} when there are none."
    )


class ErrorResponseSerializer(serializers.Serializer):
    """Every error the API answers, whatever the status."""

    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Errors only some operations answer, to merge into `extend_schema(responses=...)`."""
    return {
        status: OpenApiResponse(ErrorResponseSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses
    }


def enum_list_field(values: list[str], **kwargs: Any) -> serializers.ListField:
    """A list of strings documented as an enum; validation stays with the service (its messages name the unknown)."""

    @extend_schema_field({"type": "array", "items": {"type": "string", "enum": values}})
    class EnumListField(serializers.ListField):
        pass

    return EnumListField(**kwargs)


class GatewayAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses each operation can answer (module docstring)."""

    def _error_statuses(self) -> set[int]:
        statuses = {429, 503}
        if self.get_auth() not in ([], [{}]):
            statuses |= {401, 403}
        if self.method in {"POST", "PUT", "PATCH"} and self.get_request_serializer() is not None:
            statuses |= {400, 413, 415}
        if any(parameter.get("in") == "query" for parameter in self._get_parameters()):
            statuses.add(400)
        if "{" in self.path or self._get_pagination_parameters():
            statuses.add(404)
        return statuses

    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        strict = isinstance(force_instance(serializer), StrictSerializerMixin)
        if direction == "request" and strict and schema.get("type") == "object":
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in sorted(self._error_statuses()):
            responses.setdefault(str(status), self._get_response_for_code(ErrorResponseSerializer, str(status)))
        for status, response in responses.items():
            if int(status) < 400:
                continue
            # Errors are JSON whatever renderers the view has (the browsable API renders only successes).
            content = response.get("content", {})
            response["content"] = {JSON: content[JSON]} if JSON in content else content
            response["description"] = response.get("description") or ERROR_DESCRIPTIONS.get(int(status), "")
            if int(status) in RETRY_AFTER_STATUSES:
                response.setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "Seconds to wait before trying again.",
                    "required": int(status) == 429,
                }
        return dict(sorted(responses.items()))
