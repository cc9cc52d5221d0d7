"""The REST door to the tools: list what the caller may call, and invoke through the one pipeline."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.principal import acting_for_resolve, principal_acting_for, principal_from_rest
from apps.core.schema import error_responses
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.pipeline.policies import policy_for, tools_available
from apps.mcp_tools.pipeline.registry import ToolSpec
from apps.mcp_tools.serializers import ToolInvokeResultSerializer, ToolInvokeSerializer, ToolSerializer
from apps.quotas.throttle import decision_attach


def tool_describe(spec: ToolSpec) -> dict:
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
        "annotations": spec.annotations,
        # The policy's scope, which an operator may have changed from the registered default.
        "required_scope": policy_for(spec).required_scope,
    }


class ToolListView(APIView):
    """The tools this caller may call now (policy, role and token scope applied), with schemas."""

    # Scopes are per tool, so the pipeline checks them, not a view-wide TokenScopePermission.
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ToolSerializer(many=True))
    def get(self, request: Request) -> Response:
        principal = principal_from_rest(request)
        return Response([tool_describe(spec) for spec in tools_available(principal=principal)])


TOOL_NAME_MAX = ToolInvokeSerializer._declared_fields["tool_name"].max_length


def _invoke_body_plain(data: object) -> dict | None:
    """The body `ToolInvokeSerializer` would accept unchanged, as it would return it; else None.

    The common body, {"tool_name": "...", "parameters": {...}}, needs none of the serializer's work
    (building and binding its fields was 70 us of every REST call): a name the CharField keeps as it
    is (1 to its max_length characters, no surrounding whitespace, no NUL or lone surrogate) and an object of
    parameters. Anything else, user_id included, goes through the serializer and its error messages.
    """
    if type(data) is not dict or not data.keys() <= {"tool_name", "parameters"}:
        return None
    name, parameters = data.get("tool_name"), data.get("parameters", {})
    if type(name) is not str or not 0 < len(name) <= TOOL_NAME_MAX or name != name.strip() or "\x00" in name:
        return None
    if type(parameters) is not dict or (not name.isascii() and not _encodable(name)):
        return None
    return {"tool_name": name, "parameters": parameters}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate, which the serializer refuses
    return True


class ToolInvokeView(APIView):
    """Run one tool through the pipeline. Errors: unknown 404, not permitted 403, bad arguments 400, 429."""

    permission_classes = [IsAuthenticated]
    # The pipeline counts the call against the caller's and the tool's rates; DRF must not count it twice.
    quota_in_pipeline = True

    # 404: no such tool or user; 409: a provider key that cannot be used now; 422: the provider refused it.
    @extend_schema(
        request=ToolInvokeSerializer, responses={200: ToolInvokeResultSerializer, **error_responses(404, 409, 422)}
    )
    def post(self, request: Request) -> Response:
        data = _invoke_body_plain(request.data)
        if data is None:
            serializer = ToolInvokeSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        principal = principal_from_rest(request)
        subject = acting_for_resolve(
            actor=request.user, user_id=data.get("user_id"), refusal="Only operators may call tools for another user."
        )
        if subject.pk != request.user.pk:
            principal = principal_acting_for(operator=principal, user=subject)
        outcome = tool_invoke(
            principal=principal, tool_name=data["tool_name"], arguments=data.get("parameters"), transport="rest"
        )
        decision_attach(request, outcome.rate_limits)
        if outcome.success:
            return Response(outcome.as_dict())
        error = outcome.error
        details = error.details if isinstance(error.details, dict) else {"errors": error.details}
        error.details = {**details, "invocation_id": outcome.invocation_id}
        raise error
