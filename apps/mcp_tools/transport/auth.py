"""Bearer authentication for /mcp: our token verifier inside the SDK's auth middleware."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import Field
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from apps.accounts.principal import Principal, principal_from_bearer, principal_from_bearer_cached
from apps.core.client_address import client_address_from_scope
from apps.core.database import database_work
from apps.core.errors import RateLimited, Unauthenticated, error_body
from apps.core.limit_reports import refusal_headers
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


def resource_metadata_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/.well-known/oauth-protected-resource"


def _challenge(error: str, description: str) -> str:
    description = description.replace('"', "'")
    return f'Bearer error="{error}", error_description="{description}", resource_metadata="{resource_metadata_url()}"'


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


async def principal_from_mcp_request(ctx: ServerRequestContext[Any, Any]) -> Principal:
    request = ctx.request
    user = request.scope.get("user") if isinstance(request, Request) else None
    access = user.access_token if isinstance(user, AuthenticatedUser) else None
    if not isinstance(access, PrincipalAccessToken) or not isinstance(access.principal, Principal):
        # RequireAuthMiddleware stops unauthenticated requests first; reaching this is a wiring bug.
        raise MCPError(code=UNAUTHENTICATED_ERROR, message="not_authenticated: no authenticated caller")
    return access.principal
