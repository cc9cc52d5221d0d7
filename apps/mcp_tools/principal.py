"""Who is calling a tool, and with which scopes; the same object whatever door the call came in by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import PAT_PREFIX
from apps.accounts.scopes import scopes_for_user
from apps.core.errors import Unauthenticated

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


def principal_from_bearer(raw_token: str) -> Principal:
    """JWT access token or personal access token -> Principal.

    Raises Unauthenticated (401; code token_expired, token_revoked or token_invalid) for anything else.
    Sync (ORM); call via asgiref sync_to_async.
    """
    raw_token = (raw_token or "").strip()
    if not raw_token:
        raise Unauthenticated("A bearer token is required.", code="token_missing")
    if raw_token.startswith(PAT_PREFIX):
        from apps.accounts.services import pat_authenticate

        return principal_for_token(pat_authenticate(raw_token=raw_token))
    try:
        token = AccessToken(raw_token)
    except ExpiredTokenError:
        raise Unauthenticated("The access token has expired.", code="token_expired") from None
    except TokenError:
        raise Unauthenticated("The access token is invalid.", code="token_invalid") from None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
    if user is None or not user.is_active:
        raise Unauthenticated("The access token is invalid.", code="token_invalid")
    return principal_for_user(user, auth_method="jwt")
