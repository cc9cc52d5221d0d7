"""The MCP door: tools/list and tools/call over Streamable HTTP (mounted at /mcp) and stdio.

This module only translates. tools/list is `registry.tools_available(principal)`; tools/call is
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import mcp_types as types
from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from pydantic import Field
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.datastructures import Headers
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.core.client_address import client_address_from_scope
from apps.core.database import database_work
from apps.core.errors import (
    DomainError,
    RateLimited,
    Unauthenticated,
    database_unavailable,
    database_unavailable_logged,
    error_body,
)
from apps.core.request_id import request_id_current
from apps.mcp_tools.pipeline import InvocationResult, tool_invoke
from apps.mcp_tools.principal import Principal, principal_from_bearer
from apps.mcp_tools.rebinding import host_allowed, origin_allowed
from apps.mcp_tools.registry import ToolSpec, tool_get, tools_available
from apps.quotas.services import rate_limit_meta

logger = logging.getLogger(__name__)

SERVER_NAME = "todo-mcp-gateway"
SERVER_TITLE = "Todo MCP Gateway"
INSTRUCTIONS = (
    "Tools for the caller's own todo list (create, find, update, complete, reopen, delete, due dates in the "
    "user's time zone, overview) and utilities (current time, who am I). Every tool acts only on the "
    "authenticated user's data."
)
MCP_PATH = "/mcp"
# JSON-RPC error code for a stdio request whose token stopped being valid mid-session.
UNAUTHENTICATED_ERROR = -32001
# JSON-RPC "internal error": an unexpected failure, answered without its detail.
INTERNAL_ERROR = -32603

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


def _failure_text(exc: Exception) -> tuple[str, dict[str, Any]]:
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


def _protocol_error(exc: Exception) -> MCPError:
    text, details = _failure_text(exc)
    return MCPError(code=INTERNAL_ERROR, message=text, data=details)


# --- The server ------------------------------------------------------------------------------------


def server_build(*, principal_source: PrincipalSource, transport: str) -> Server[Any]:
    """A low-level SDK server whose two tool handlers delegate to the registry and the pipeline."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        principal = await principal_source(ctx)
        try:
            specs = await database_work(tools_available, principal=principal)
        except Exception as exc:
            raise _protocol_error(exc) from None
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
            text, details = _failure_text(exc)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{text} {_json(details)}")], is_error=True
            )
        return call_result_from_invocation(outcome)

    def input_schema(name: str) -> dict | None:
        # Used by the SDK for Mcp-Param header checks on 2026-07-28 requests. Without it the SDK would
        # run tools/list (policy lookups) before every call to find the schema.
        spec = tool_get(name)
        return spec.input_schema if spec is not None else None

    return Server(
        SERVER_NAME,
        title=SERVER_TITLE,
        version="1.0.0",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


# --- Streamable HTTP ---------------------------------------------------------------------------------


class PrincipalAccessToken(AccessToken):
    """The SDK's access-token record, carrying the Principal our verifier resolved."""

    # Any, not Principal: pydantic would try to build a schema for the dataclass and its User model.
    principal: Any = Field(exclude=True)


class GatewayTokenVerifier(TokenVerifier):
    """TokenVerifier over `principal_from_bearer`: JWT access tokens and personal access tokens."""

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self.verify_or_explain(token)
        except Unauthenticated:
            return None

    async def verify_or_explain(self, token: str, client_address: str | None = None) -> PrincipalAccessToken:
        # The connection goes back to the pool at once: the request may still wait on the network.
        principal = await database_work(principal_from_bearer, token, client_address=client_address)
        return PrincipalAccessToken(
            # The token itself is not kept: nothing downstream needs it, and it should not linger in scope.
            token="",
            client_id=f"{principal.auth_method}:{principal.token_id or principal.user.pk}",
            subject=str(principal.user.pk),
            scopes=sorted(principal.scopes),
            principal=principal,
        )


class GatewayBearerBackend(AuthenticationBackend):
    """The SDK's BearerAuthBackend, except that a bad token says why (expired, revoked, invalid).

    No Authorization header -> anonymous, and RequireAuthMiddleware answers 401. A bearer token that
    fails -> AuthenticationError, answered 401 by `_auth_error` with the reason in the challenge.
    """

    def __init__(self, verifier: GatewayTokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, raw_token = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_token.strip():
            raise AuthenticationError("Use an Authorization: Bearer <token> header.")
        try:
            access = await self.verifier.verify_or_explain(
                raw_token.strip(), client_address=client_address_from_scope(conn.scope)
            )
        except Unauthenticated as exc:
            raise AuthenticationError(exc.message) from None
        except RateLimited as exc:
            raise BearerThrottled(exc) from None
        return AuthCredentials(access.scopes), AuthenticatedUser(access)


class BearerThrottled(AuthenticationError):
    """Too many failed tokens from this address (apps.accounts.bearer): 429, not 401."""

    def __init__(self, error: RateLimited) -> None:
        super().__init__(error.message)
        self.error = error


def resource_metadata_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/.well-known/oauth-protected-resource"


def _challenge(error: str, description: str) -> str:
    description = description.replace('"', "'")
    return f'Bearer error="{error}", error_description="{description}", resource_metadata="{resource_metadata_url()}"'


def _auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, BearerThrottled):
        error = exc.error
        return JSONResponse(
            error_body(error.code, error.message, error.details),
            status_code=429,
            headers={"Retry-After": str(error.retry_after)},
        )
    return JSONResponse(
        {"error": "invalid_token", "error_description": str(exc)},
        status_code=401,
        headers={"WWW-Authenticate": _challenge("invalid_token", str(exc))},
    )


def transport_security_settings() -> TransportSecuritySettings:
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.MCP_ALLOWED_HOSTS),
        allowed_origins=list(settings.MCP_ALLOWED_ORIGINS),
    )


class RebindingGuard:
    """Host and Origin checks before anything else, so a rebinding page costs no token lookup.

    Exact matching (apps.mcp_tools.rebinding): the SDK's own checker, which the transport runs again
    behind authentication, lets `name:*` match `name:8000.evil`. Ours runs first and is stricter.
    """

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            if not host_allowed(headers.get("host"), self.security.allowed_hosts):
                await Response("Invalid Host header", status_code=421)(scope, receive, send)
                return
            if not origin_allowed(headers.get("origin"), self.security.allowed_origins):
                await Response("Invalid Origin header", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class PostOnly:
    """Stateless Streamable HTTP has nothing to stream on GET and no session to DELETE: 405 with
    `Allow: POST`, as the transport spec permits, before authentication. (The SDK would hold a GET
    open as an event stream for as long as the client liked.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "POST":
            body = error_body("method_not_allowed", f"{scope['method']} is not served here; send JSON-RPC with POST.")
            await JSONResponse(body, status_code=405, headers={"Allow": "POST"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ExactPath:
    """/mcp is one endpoint: the SDK transport would serve any path under the mount (/mcp/anything)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.paths = {path, path + "/"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.paths:
            await Response("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class DjangoRequestLifecycle:
    """Give each /mcp request what Django's own ASGI handler gives a view.

    One thread-sensitive context per request, so its ORM work runs on one thread of its own (not
    the process-wide sync thread every request would otherwise queue on), and the request_started /
    request_finished signals, so database connections are opened and closed per request as
    CONN_MAX_AGE says instead of leaking with the thread.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with ThreadSensitiveContext():
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            try:
                await self.app(scope, receive, send)
            finally:
                await signals.request_finished.asend(sender=self.__class__)


async def _principal_from_request(ctx: ServerRequestContext[Any, Any]) -> Principal:
    request = ctx.request
    user = request.scope.get("user") if isinstance(request, Request) else None
    access = user.access_token if isinstance(user, AuthenticatedUser) else None
    if not isinstance(access, PrincipalAccessToken) or not isinstance(access.principal, Principal):
        # RequireAuthMiddleware stops unauthenticated requests first; reaching this is a wiring bug.
        raise MCPError(code=UNAUTHENTICATED_ERROR, message="not_authenticated: no authenticated caller")
    return access.principal


def protected_resource_routes() -> list:
    from apps.accounts.scopes import SCOPES

    return create_protected_resource_routes(
        resource_url=settings.MCP_RESOURCE_URL,
        authorization_servers=list(settings.MCP_AUTHORIZATION_SERVERS),
        scopes_supported=sorted(SCOPES),
        resource_name=SERVER_TITLE,
    )


def protected_resource_metadata_app() -> ASGIApp:
    """RFC 9728 metadata at /.well-known/oauth-protected-resource and at .../mcp (RFC 9728 §3.1 form)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    routes = protected_resource_routes()
    suffixed = routes[0]
    root = Route(
        "/.well-known/oauth-protected-resource",
        endpoint=suffixed.endpoint,
        methods=["GET", "OPTIONS"],
    )
    return Starlette(routes=[root, *routes])


class SessionManagerSlot:
    """The SDK session manager behind /mcp, created afresh for each ASGI lifespan.

    A StreamableHTTPSessionManager runs once per instance; an ASGI server may start the same
    application more than once in a process (tests, reloads), so each lifespan gets a new one.
    """

    def __init__(self, factory: Callable[[], StreamableHTTPSessionManager]) -> None:
        self.factory = factory
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def lifetime(self) -> AsyncIterator[None]:
        manager = self.factory()
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            # The ASGI server did not run the lifespan protocol (e.g. uvicorn --lifespan off).
            await Response("The MCP endpoint is not started.", status_code=503)(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)


def http_app() -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The /mcp ASGI app and the lifetime (the session manager's task group) the ASGI lifespan runs."""
    security = transport_security_settings()
    server = server_build(principal_source=_principal_from_request, transport="mcp-http")
    slot = SessionManagerSlot(
        lambda: StreamableHTTPSessionManager(
            app=server,
            # Stateless: any replica serves any request, no session to route or reap.
            stateless=True,
            json_response=settings.MCP_JSON_RESPONSE,
            security_settings=security,
            max_request_body_size=settings.MCP_MAX_REQUEST_BYTES,
        )
    )
    app: ASGIApp = RequireAuthMiddleware(slot, required_scopes=[], resource_metadata_url=resource_metadata_url())
    app = AuthContextMiddleware(app)
    app = AuthenticationMiddleware(app, backend=GatewayBearerBackend(GatewayTokenVerifier()), on_error=_auth_error)
    app = DjangoRequestLifecycle(app)
    app = PostOnly(app)
    app = RebindingGuard(app, security)
    app = ExactPath(app, MCP_PATH)
    return app, slot.lifetime


# --- stdio ---------------------------------------------------------------------------------------------


def stdio_principal_source(raw_token: str) -> PrincipalSource:
    """Verify the stdio token on every request, in a fresh DB connection state each time."""

    def verify() -> Principal:
        close_old_connections()
        return principal_from_bearer(raw_token)

    async def source(ctx: ServerRequestContext[Any, Any]) -> Principal:
        try:
            return await database_work(verify)
        except Unauthenticated as exc:
            raise MCPError(code=UNAUTHENTICATED_ERROR, message=f"{exc.code}: {exc.message}") from None
        except Exception as exc:
            raise _protocol_error(exc) from None

    return source


async def stdio_serve(raw_token: str) -> None:
    from mcp.server.stdio import stdio_server

    server = server_build(principal_source=stdio_principal_source(raw_token), transport="mcp-stdio")
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
