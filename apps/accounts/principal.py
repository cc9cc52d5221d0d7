"""Who is calling, with which scopes, and for whom: the one Principal every door builds.

REST (`principal_from_rest`), MCP over HTTP and stdio (`principal_from_bearer`) and the chat loop
(`principal_for_user`) all build it here, so a token's scopes are intersected with the user's roles
in one place (`principal_for_token`) and "an operator may act for this user" is one rule
(`acting_for_resolve`, used by the tool door and by provider keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.bearer import BearerIdentity, bearer_authenticate
from apps.accounts.models import PersonalAccessToken
from apps.accounts.oauth.events import client_label
from apps.accounts.oauth.resource import mcp_resource_url
from apps.accounts.oauth.tokens import oauth_token_allows
from apps.accounts.principal_cache import principal_cache_get
from apps.accounts.scopes import scopes_for_user
from apps.accounts.selectors import user_active_get
from apps.core.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from apps.accounts.models import User


@dataclass(frozen=True)
class Principal:
    user: User
    scopes: frozenset[str]  # a JWT or session carries every scope the user's roles allow
    auth_method: str  # "jwt" | "pat" | "oauth" | "session"
    token_id: int | None = None  # the PersonalAccessToken id for "pat"
    # Set when an operator acts for `user` (REST invoke with user_id): audited with both.
    operator: User | None = None
    # For "oauth": the client the user connected (its name, and its client_id), for the audit trail.
    oauth_client: str = ""
    oauth_client_id: str = ""


def principal_for_user(user: User, *, auth_method: str = "session") -> Principal:
    return Principal(user=user, scopes=scopes_for_user(user), auth_method=auth_method)


def principal_for_token(token) -> Principal:
    """An authenticated PersonalAccessToken -> Principal; its scopes never exceed the user's role."""
    return Principal(
        user=token.user,
        scopes=frozenset(token.scopes) & scopes_for_user(token.user),
        auth_method="pat",
        token_id=token.pk,
    )


def principal_for_oauth_token(token: Any) -> Principal:
    """An OAuth access token -> Principal: the scopes the user allowed, within what the role allows now."""
    return Principal(
        user=token.user,
        scopes=frozenset(token.scope.split()) & scopes_for_user(token.user),
        auth_method="oauth",
        oauth_client=client_label(token.application),
        oauth_client_id=token.application.client_id,
    )


def _mcp_principal(identity: BearerIdentity) -> Principal:
    """The principal for an MCP door (HTTP or stdio); an OAuth token must be bound to /mcp (RFC 8707)."""
    if identity.personal_token is not None:
        return principal_for_token(identity.personal_token)
    if identity.oauth_token is not None:
        if not oauth_token_allows(identity.oauth_token, mcp_resource_url()):
            raise Unauthenticated("The access token was issued for another resource.", code="token_audience")
        return principal_for_oauth_token(identity.oauth_token)
    return principal_for_user(identity.user, auth_method="jwt")


def principal_acting_for(*, operator: Principal, user: User) -> Principal:
    """An operator calling for a user: the user's data and roles, never more scope than either holds."""
    return Principal(
        user=user,
        scopes=operator.scopes & scopes_for_user(user),
        auth_method=operator.auth_method,
        token_id=operator.token_id,
        operator=operator.user,
        oauth_client=operator.oauth_client,
        oauth_client_id=operator.oauth_client_id,
    )


def principal_from_bearer(raw_token: str, *, client_address: str | None = None) -> Principal:
    """JWT, personal access token or OAuth access token -> Principal, judged as REST judges it (an
    OAuth token must also have been issued for /mcp).

    Raises Unauthenticated (401; code token_missing, token_expired, token_revoked, token_invalid or
    token_audience)
    for anything else, or RateLimited (429) once `client_address` has failed too often (see
    apps.accounts.bearer). Sync (ORM); call via asgiref sync_to_async.
    """
    identity = bearer_authenticate(raw_token=raw_token, client_address=client_address)
    return _mcp_principal(identity)


def principal_from_bearer_cached(raw_token: str) -> Principal | None:
    """The Principal for a token verified moments ago in this process (apps.accounts.principal_cache),
    or None: then call `principal_from_bearer`. No database work, so the async /mcp door can ask
    without a thread hop."""
    identity = principal_cache_get((raw_token or "").strip())
    if identity is None:
        return None
    return _mcp_principal(identity)


def principal_from_rest(request: Any) -> Principal:
    """A DRF request already authenticated by our classes (PAT, JWT or session) -> Principal."""
    if isinstance(request.auth, PersonalAccessToken):
        return principal_for_token(request.auth)
    if isinstance(request.auth, AccessToken):
        return principal_for_user(request.user, auth_method="jwt")
    return principal_for_user(request.user, auth_method="session")


def acting_for_resolve(
    *, actor: User, user_id: int | None, refusal: str, on_refused: Callable[[], None] | None = None
) -> User:
    """Whom a request acts for: the actor, or (operators only) the active user named by `user_id`.

    A non-operator is refused (403 not_operator, `on_refused` runs first, e.g. to audit) before the
    id is looked up, so user ids cannot be probed; an unknown or inactive user is 404.
    """
    if user_id is None or user_id == actor.pk:
        return actor
    if not actor.is_operator:
        if on_refused is not None:
            on_refused()
        raise Forbidden(refusal, code="not_operator")
    return user_active_get(user_id=user_id)
