"""Who is calling a tool, and with which scopes; the same object whatever door the call came in by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.accounts.bearer import bearer_authenticate
from apps.accounts.scopes import scopes_for_user

if TYPE_CHECKING:
    from apps.accounts.models import User


@dataclass(frozen=True)
class Principal:
    user: User
    scopes: frozenset[str]  # a JWT or session carries every scope the user's roles allow
    auth_method: str  # "jwt" | "pat" | "session"
    token_id: int | None = None  # the PersonalAccessToken id for "pat"
    # Set when an operator acts for `user` (REST invoke with user_id): audited with both.
    operator: User | None = None


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


def principal_acting_for(*, operator: Principal, user: User) -> Principal:
    """An operator calling for a user: the user's data and roles, never more scope than either holds."""
    return Principal(
        user=user,
        scopes=operator.scopes & scopes_for_user(user),
        auth_method=operator.auth_method,
        token_id=operator.token_id,
        operator=operator.user,
    )


def principal_from_bearer(raw_token: str, *, client_address: str | None = None) -> Principal:
    """JWT access token or personal access token -> Principal, judged as REST judges it.

    Raises Unauthenticated (401; code token_missing, token_expired, token_revoked or token_invalid)
    for anything else, or RateLimited (429) once `client_address` has failed too often (see
    apps.accounts.bearer). Sync (ORM); call via asgiref sync_to_async.
    """
    identity = bearer_authenticate(raw_token=raw_token, client_address=client_address)
    if identity.personal_token is not None:
        return principal_for_token(identity.personal_token)
    return principal_for_user(identity.user, auth_method="jwt")
