"""The Streamable HTTP app at /mcp: refusals in JSON-RPC form (refusals.py), path, Host/Origin guard,
POST only, per-request Django lifecycle, bearer auth (auth.py), the request id check, then the SDK
transport serving the server from server.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from django.conf import settings
from django.core import signals
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.datastructures import Headers
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.core.errors import error_body
from apps.core.request_threads import request_thread
from apps.mcp_tools.transport.auth import (
    GatewayBearerBackend,
    GatewayTokenVerifier,
    OAuthStepUp,
    RequireBearer,
    auth_error,
    principal_from_mcp_request,
)
from apps.mcp_tools.transport.rebinding import host_allowed, origin_allowed
from apps.mcp_tools.transport.refusals import JsonRpcRefusals, RequestIdCheck, refusal
from apps.mcp_tools.transport.server import SERVER_TITLE, server_build

MCP_PATH = "/mcp"


def transport_security_settings() -> TransportSecuritySettings:
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.MCP_ALLOWED_HOSTS),
        allowed_origins=list(settings.MCP_ALLOWED_ORIGINS),
    )


class RebindingGuard:
    """Host and Origin checks before anything else, so a rebinding page costs no token lookup.

    Exact matching (apps.mcp_tools.transport.rebinding): the SDK's own checker, which the transport runs again
    behind authentication, lets `name:*` match `name:8000.evil`. Ours runs first and is stricter.
    """

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            if not host_allowed(headers.get("host"), self.security.allowed_hosts):
                await refusal(421, "Invalid Host header: this server does not answer for that host.")(
                    scope, receive, send
                )
                return
            if not origin_allowed(headers.get("origin"), self.security.allowed_origins):
                await refusal(403, "Invalid Origin header: pages from that origin may not call /mcp.")(
                    scope, receive, send
                )
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
            await refusal(404, f"Not Found: MCP is served at {sorted(self.paths)[0]} only.")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class DjangoRequestLifecycle:
    """Give each /mcp request what Django's own ASGI handler gives a view.

    One thread-sensitive context per request, so its ORM work runs on one thread of its own (not
    the process-wide sync thread every request would otherwise queue on), a pooled one
    (apps.core.request_threads) rather than one started for the request, and the request_started /
    request_finished signals. Connections are handed back by `database_work` after each unit of
    database work, so a call costs one thread hop when its principal is cached.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with request_thread():
            # Sent on the event loop, not through a thread: `asend` would spend a thread hop on each
            # (two per call). Django's receivers reset this thread's query log, connections, caches
            # and URLconf, of which the loop thread holds none; the request's own database work runs
            # in `database_work`, which hands its thread's connections back as soon as it returns.
            # A receiver that needs the database here would fail loudly (SynchronousOnlyOperation).
            signals.request_started.send(sender=self.__class__, scope=scope)
            try:
                await self.app(scope, receive, send)
            finally:
                signals.request_finished.send(sender=self.__class__)


PROTECTED_RESOURCE_METADATA_PATHS = (
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
)


def protected_resource_metadata() -> dict:
    """RFC 9728 metadata for /mcp, from the settings of the moment (they follow PUBLIC_BASE_URL)."""
    from apps.accounts.scopes import SCOPES

    metadata = ProtectedResourceMetadata(
        resource=settings.MCP_RESOURCE_URL,
        authorization_servers=list(settings.MCP_AUTHORIZATION_SERVERS),
        scopes_supported=sorted(SCOPES),
        resource_name=SERVER_TITLE,
        bearer_methods_supported=["header"],
    )
    return metadata.model_dump(mode="json", exclude_none=True)


async def protected_resource_metadata_app(scope: Scope, receive: Receive, send: Send) -> None:
    """RFC 9728 metadata at /.well-known/oauth-protected-resource and at .../mcp (RFC 9728 §3.1 form)."""
    if scope["type"] != "http":
        return
    cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, OPTIONS"}
    if scope["path"].rstrip("/") not in PROTECTED_RESOURCE_METADATA_PATHS:
        response: Response = Response("Not Found", status_code=404)
    elif scope["method"] == "OPTIONS":
        response = Response(status_code=204, headers={**cors, "Access-Control-Allow-Headers": "*"})
    elif scope["method"] not in ("GET", "HEAD"):
        response = Response(status_code=405, headers={"Allow": "GET, OPTIONS"})
    else:
        response = JSONResponse(
            protected_resource_metadata(), headers={**cors, "Cache-Control": "public, max-age=3600"}
        )
    await response(scope, receive, send)


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
            await refusal(503, "The MCP endpoint is not started.")(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)


def http_app() -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The /mcp ASGI app and the lifetime (the session manager's task group) the ASGI lifespan runs."""
    security = transport_security_settings()
    server = server_build(principal_source=principal_from_mcp_request, transport="mcp-http")
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
    app: ASGIApp = OAuthStepUp(slot)
    app = RequestIdCheck(app)
    app = RequireBearer(app)
    app = AuthContextMiddleware(app)
    app = AuthenticationMiddleware(app, backend=GatewayBearerBackend(GatewayTokenVerifier()), on_error=auth_error)
    app = DjangoRequestLifecycle(app)
    app = PostOnly(app)
    app = RebindingGuard(app, security)
    app = ExactPath(app, MCP_PATH)
    app = JsonRpcRefusals(app)
    return app, slot.lifetime
