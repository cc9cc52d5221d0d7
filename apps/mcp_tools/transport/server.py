"""The MCP door: tools/list and tools/call over Streamable HTTP (mounted at /mcp) and stdio.

This module only translates. tools/list is `policies.tools_available(principal)`; tools/call is
`pipeline.tool_invoke(...)` and nothing else, so authorisation, validation, rate limits, caching,
usage and audit happen exactly as they do for REST. The server is the SDK's low-level `Server`:
`MCPServer` is built around tools registered as Python functions with schemas derived from their
signatures and one tool list for every caller, while ours come from the registry with hand-written
JSON Schemas and a list that depends on who is asking.

HTTP: every request is authenticated by the SDK's bearer-auth middleware with our token verifier
(JWT or personal access token, via `principal_from_bearer`), checked for DNS rebinding before that,
and served statelessly (see docs/mcp-transport.md for why). stdio: the personal access token in
GATEWAY_TOKEN is verified again on every request, so revoking it stops a running desktop client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from apps.accounts.principal import Principal
from apps.core.database import database_work
from apps.core.errors import DomainError, database_unavailable, database_unavailable_logged
from apps.core.limit_reports import rate_limit_meta
from apps.core.request_id import request_id_current
from apps.mcp_tools.pipeline import InvocationResult, tool_invoke
from apps.mcp_tools.pipeline.policies import tools_available
from apps.mcp_tools.pipeline.registry import ToolSpec, tool_get
from apps.quotas.services import quota_caller_check

logger = logging.getLogger(__name__)

SERVER_NAME = "todo-mcp-gateway"
SERVER_TITLE = "Todo MCP Gateway"
INSTRUCTIONS = (
    "Tools for the caller's own todo list (create, find, update, complete, reopen, delete, due dates in the "
    "user's time zone, overview) and utilities (current time, who am I). Every tool acts only on the "
    "authenticated user's data."
)
# JSON-RPC error code for a stdio request whose token stopped being valid mid-session.
UNAUTHENTICATED_ERROR = -32001
# JSON-RPC "internal error": an unexpected failure, answered without its detail.
INTERNAL_ERROR = -32603
# JSON-RPC implementation-defined server error: a request refused by a limit (or its store being down).
REFUSED_ERROR = -32000

PrincipalSource = Callable[[ServerRequestContext[Any, Any]], Awaitable[Principal]]


# --- Results ---------------------------------------------------------------------------------------


def tool_from_spec(spec: ToolSpec) -> types.Tool:
    annotations = spec.annotations
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=annotations.get("readOnlyHint"),
            destructive_hint=annotations.get("destructiveHint"),
            idempotent_hint=annotations.get("idempotentHint"),
            open_world_hint=annotations.get("openWorldHint"),
        ),
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def call_result_from_invocation(outcome: InvocationResult) -> types.CallToolResult:
    """The contract's mapping: success -> structuredContent + the same JSON as text; failure -> isError."""
    meta = {
        "todo-gateway/invocation": {
            "id": outcome.invocation_id,
            "cached": outcome.cached,
            "duration_ms": outcome.duration_ms,
        }
    }
    if outcome.rate_limits is not None and outcome.rate_limits.binding is not None:
        # The same figures REST sends as RateLimit-* headers.
        meta["todo-gateway/ratelimit"] = rate_limit_meta(outcome.rate_limits)
    if outcome.success:
        result = outcome.result if outcome.result is not None else {}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=_json(result))],
            structured_content=result,
            meta=meta,
        )
    error = outcome.error or DomainError("The tool failed.", code="tool_failed")
    text = f"{error.code}: {error.message}"
    details = (
        dict(error.details) if isinstance(error.details, dict) else ({"errors": error.details} if error.details else {})
    )
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        details["retry_after"] = retry_after
    if details:
        text += " " + _json(details)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True, meta=meta)


def failure_text(exc: Exception) -> tuple[str, dict[str, Any]]:
    """An unexpected exception -> (text, details) for the client: a database that cannot serve says
    so with a retry hint; anything else is a generic message with the request id. The exception's own
    text goes to the log only (it can quote SQL, values, internals)."""
    if database_unavailable(exc):
        unavailable = database_unavailable_logged(exc)
        return f"{unavailable.code}: {unavailable.message}", {"retry_after": unavailable.retry_after}
    request_id = request_id_current()
    logger.error("MCP request failed (request %s)", request_id, exc_info=exc)
    return f"server_error: The server failed to handle this request (request id {request_id}).", {
        "request_id": request_id
    }


def refusal_error(error: DomainError) -> MCPError:
    """A request other than tools/call refused on purpose: the same text and details a tool error has."""
    details = dict(error.details) if isinstance(error.details, dict) else {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        details["retry_after"] = retry_after
    return MCPError(code=REFUSED_ERROR, message=f"{error.code}: {error.message}", data=details)


def _tools_listed(principal: Principal) -> list[ToolSpec]:
    # Counted against the caller's rate across all doors, as GET /api/mcp/tools is at REST; tools/call
    # is counted by the pipeline.
    quota_caller_check(user=principal.operator or principal.user)
    return tools_available(principal=principal)


def protocol_error(exc: Exception) -> MCPError:
    text, details = failure_text(exc)
    return MCPError(code=INTERNAL_ERROR, message=text, data=details)


# --- The server ------------------------------------------------------------------------------------


def server_build(*, principal_source: PrincipalSource, transport: str) -> Server[Any]:
    """A low-level SDK server whose two tool handlers delegate to the registry and the pipeline."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        principal = await principal_source(ctx)
        try:
            specs = await database_work(_tools_listed, principal)
        except DomainError as refused:
            raise refusal_error(refused) from None
        except Exception as exc:
            raise protocol_error(exc) from None
        # Private and never fresh: the list depends on the caller and on policies an operator can change.
        return types.ListToolsResult(tools=[tool_from_spec(spec) for spec in specs], ttl_ms=0, cache_scope="private")

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        principal = await principal_source(ctx)
        try:
            outcome = await database_work(
                tool_invoke,
                principal=principal,
                tool_name=params.name,
                arguments=params.arguments if params.arguments is not None else {},
                transport=transport,
            )
        except Exception as exc:
            # The pipeline raises only on bugs and outages (it logged and recorded what it could).
            text, details = failure_text(exc)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{text} {_json(details)}")], is_error=True
            )
        return call_result_from_invocation(outcome)

    def input_schema(name: str) -> dict | None:
        # Used by the SDK for Mcp-Param header checks on 2026-07-28 requests. Without it the SDK would
        # run tools/list (policy lookups) before every call to find the schema.
        spec = tool_get(name)
        return spec.input_schema if spec is not None else None

    server = Server(
        SERVER_NAME,
        title=SERVER_TITLE,
        version="1.0.0",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    # The SDK wraps every message in an OpenTelemetry span, which does nothing until an exporter is
    # installed. The gateway installs none (its request ids, logs and audit trail say what happened),
    # so no call pays for building one.
    server.middleware = [layer for layer in server.middleware if not isinstance(layer, OpenTelemetryMiddleware)]
    return server
