"""DRF authentication and permission for personal access tokens, so REST accepts the MCP tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.bearer import bearer_authenticate
from apps.accounts.models import OAUTH_ACCESS_PREFIX, PAT_PREFIX, PersonalAccessToken
from apps.accounts.oauth.resource import rest_resource_url
from apps.accounts.oauth.tokens import oauth_token_allows
from apps.accounts.principal import principal_from_rest
from apps.accounts.roles import ROLE_MISSING_CODE, ROLE_MISSING_MESSAGE
from apps.accounts.scopes import user_roles
from apps.core.client_address import client_address
from apps.core.errors import RateLimited, Unauthenticated
from apps.core.request_context import request_context_update


def _bearer_token(request: Request) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None


def _bearer_identity(request: Request, raw: str):
    try:
        return bearer_authenticate(raw_token=raw, client_address=client_address(request))
    except Unauthenticated as exc:
        # JWT refusals keep simplejwt's REST code, token_not_valid; the message says why.
        code = "token_not_valid" if not raw.startswith((PAT_PREFIX, OAUTH_ACCESS_PREFIX)) else exc.code
        raise exceptions.AuthenticationFailed({"detail": exc.message, "code": code}) from None
    except RateLimited as exc:
        raise BearerThrottled(exc) from None


OAUTH_NOT_FOR_REST = "This OAuth access token was issued for the MCP endpoint, not the REST API."


class BearerThrottled(exceptions.APIException):
    """429 for an address with too many failed tokens, in the error shape with Retry-After."""

    status_code = 429
    default_code = "rate_limited"

    def __init__(self, error: Any) -> None:
        super().__init__(detail={"detail": error.message, "code": error.code, "retry_after": error.retry_after})
        self.wait = error.retry_after  # DRF's handler turns `wait` into Retry-After


def _actor_into_context(user: Any, *, token_id: int | None = None) -> None:
    """The audit trail's actor for the rest of this request (see apps.core.request_context)."""
    request_context_update(actor_id=user.pk, actor_label=user.username, token_id=token_id)


class PersonalAccessTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer gw_pat_...`; any other bearer token is left to the next class (JWT)."""

    def authenticate(self, request: Request) -> tuple[Any, PersonalAccessToken] | None:
        raw = _bearer_token(request)
        if raw is None or not raw.startswith(PAT_PREFIX):
            return None
        identity = _bearer_identity(request, raw)
        _actor_into_context(identity.user, token_id=identity.personal_token.pk)
        return identity.user, identity.personal_token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AccessTokenAuthentication(JWTAuthentication):
    """JWT access tokens, checked against the user's credential stamp and session on every request.

    simplejwt's own class checks only the signature, expiry and the user; ours goes through the
    same `bearer_authenticate` as /mcp (see apps.accounts.tokens.access_token_authenticate).
    """

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        raw = _bearer_token(request)
        if raw is None or raw.startswith(PAT_PREFIX):
            return None
        identity = _bearer_identity(request, raw)
        if identity.oauth_token is not None and not oauth_token_allows(identity.oauth_token, rest_resource_url()):
            # RFC 8707: an OAuth token is for the resource it was issued for (/mcp), not this API.
            raise exceptions.AuthenticationFailed(
                {
                    "detail": "This OAuth access token was issued for the MCP endpoint, not the REST API.",
                    "code": "token_audience",
                }
            )
        _actor_into_context(identity.user)
        return identity.user, identity.jwt


class SessionContextAuthentication(SessionAuthentication):
    """DRF's browser-session authentication, naming the caller for the audit trail like the others."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None:
            _actor_into_context(result[0])
        return result


def request_scopes(request: Request) -> frozenset[str]:
    """The scopes this request carries: a token's own (within the role), else everything the role allows."""
    return principal_from_rest(request).scopes


class TokenScopePermission(BasePermission):
    """Views declare `read_scope` (safe methods) and `write_scope` (the rest).

    A scope of None for a method means personal access tokens may not use it at all (e.g. managing
    tokens: a leaked token must not be able to mint more); JWT and session callers are unaffected.
    """

    message = "This token does not carry the scope this request needs."
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "read_scope" if request.method in SAFE_METHODS else "write_scope", None)
        if scope is None:
            if isinstance(request.auth, PersonalAccessToken):
                self.message = "Personal access tokens cannot be used for this request; log in instead."
                self.code = "token_not_allowed"
                return False
            return True
        if scope not in request_scopes(request):
            if not request.user.is_superuser and not user_roles(request.user):
                # The cause is the account, not the token: say which role is missing and who gives it.
                self.message, self.code = ROLE_MISSING_MESSAGE, ROLE_MISSING_CODE
                return False
            self.message = f"This request needs the {scope!r} scope."
            return False
        return True


class PersonalAccessTokenScheme(OpenApiAuthenticationExtension):
    """Documents personal access tokens in the OpenAPI schema (same header as JWTs, another format)."""

    target_class = PersonalAccessTokenAuthentication
    name = "personalAccessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "gw_pat_<lookup>_<secret>",
            "description": "A personal access token from POST /api/auth/tokens, limited to its scopes.",
        }


class AccessTokenScheme(SimpleJWTScheme):
    """Documents our JWT class exactly as simplejwt's own (the same "jwtAuth" bearer scheme)."""

    target_class = AccessTokenAuthentication


class SessionContextScheme(SessionScheme):
    """Documents our session class exactly as DRF's own (the same "cookieAuth" scheme)."""

    target_class = SessionContextAuthentication
