"""Bearer authentication for /mcp: our token verifier inside the SDK's auth middleware, the 401 challenge
an OAuth client signs in from, and the 403 step-up for an OAuth token short of a tool's scope."""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import Field
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.accounts.oauth.resource import resource_metadata_url
from apps.accounts.principal import Principal, principal_from_bearer, principal_from_bearer_cached
from apps.accounts.scopes import SCOPES
from apps.core.client_address import client_address_from_scope
from apps.core.database import database_work
from apps.core.errors import RateLimited, Unauthenticated, error_body
from apps.core.limit_reports import refusal_headers
from apps.mcp_tools.pipeline.registry import tool_get
from apps.mcp_tools.transport.refusals import DECODED_MESSAGE
from apps.mcp_tools.transport.server import UNAUTHENTICATED_ERROR


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
        # A token verified moments ago needs no thread and no database; otherwise the connection
        # goes back to the pool at once: the request may still wait on the network.
        principal = principal_from_bearer_cached(token)
        if principal is None:
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
    fails -> AuthenticationError, answered 401 by `auth_error` with the reason in the challenge.
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


def _scopes_value(scopes: list[str] | frozenset[str] | None = None) -> str:
    return " ".join(sorted(scopes if scopes is not None else SCOPES))


def _challenge(error: str | None = None, description: str = "", *, scopes: list[str] | None = None) -> str:
    """RFC 6750 / RFC 9728 challenge: where the metadata is (path-suffixed form for /mcp) and which
    scopes to ask for, so an OAuth client can start (or step up) its sign-in from this answer alone."""
    parts = []
    if error:
        parts += [f'error="{error}"', f'error_description="{_quoted(description)}"']
    parts += [f'resource_metadata="{resource_metadata_url()}"', f'scope="{_scopes_value(scopes)}"']
    return "Bearer " + ", ".join(parts)


def _quoted(value: str) -> str:
    return value.replace("\\", "").replace('"', "'").replace("\r", " ").replace("\n", " ")


def auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, BearerThrottled):
        error = exc.error
        return JSONResponse(
            error_body(error.code, error.message, error.details),
            status_code=429,
            headers=refusal_headers(error),
        )
    return JSONResponse(
        {"error": "invalid_token", "error_description": str(exc)},
        status_code=401,
        headers={"WWW-Authenticate": _challenge("invalid_token", str(exc))},
    )


class RequireBearer:
    """No authenticated caller -> 401 with the challenge an OAuth client starts its sign-in from."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not isinstance(scope.get("user"), AuthenticatedUser):
            body = {"error": "invalid_token", "error_description": "Authentication required"}
            response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": _challenge()})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class OAuthStepUp:
    """An OAuth caller asking for a tool its token's scopes do not cover gets 403 insufficient_scope with
    the scopes to ask for (MCP step-up authorization), instead of a tool error it cannot act on.

    Only for OAuth tokens: a client holding one can sign in again for more; a personal access token
    cannot, and keeps the tool error. Runs inside RequestIdCheck, which has read and decoded the body
    once (DECODED_MESSAGE; a batch never gets this far).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        access = user.access_token if isinstance(user, AuthenticatedUser) else None
        principal = access.principal if isinstance(access, PrincipalAccessToken) else None
        if isinstance(principal, Principal) and principal.auth_method == "oauth":
            needed = _scope_missing(scope.get(DECODED_MESSAGE), principal.scopes)
            if needed:
                wanted = sorted(set(principal.scopes) | {needed})
                description = f"This tool needs the {needed} scope."
                response = JSONResponse(
                    {"error": "insufficient_scope", "error_description": description},
                    status_code=403,
                    headers={"WWW-Authenticate": _challenge("insufficient_scope", description, scopes=wanted)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _scope_missing(message: Any, held: frozenset[str]) -> str | None:
    """The scope a tools/call message needs and the caller lacks, if any."""
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    spec = tool_get(name) if isinstance(name, str) else None
    if spec is not None and spec.required_scope not in held:
        return spec.required_scope
    return None


async def principal_from_mcp_request(ctx: ServerRequestContext[Any, Any]) -> Principal:
    request = ctx.request
    user = request.scope.get("user") if isinstance(request, Request) else None
    access = user.access_token if isinstance(user, AuthenticatedUser) else None
    if not isinstance(access, PrincipalAccessToken) or not isinstance(access.principal, Principal):
        # RequireAuthMiddleware stops unauthenticated requests first; reaching this is a wiring bug.
        raise MCPError(code=UNAUTHENTICATED_ERROR, message="not_authenticated: no authenticated caller")
    return access.principal
