"""Reads of account data, always scoped to the owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import PersonalAccessToken, User
from apps.core.errors import NotFound


def pat_list(*, user: User) -> QuerySet[PersonalAccessToken]:
    return PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-id")


def pat_get(*, user: User, token_id: Any) -> PersonalAccessToken:
    try:
        token_id = int(token_id)
    except (TypeError, ValueError):
        raise NotFound("No such access token.") from None
    token = pat_list(user=user).filter(pk=token_id).first()
    if token is None:
        # Someone else's token answers exactly like a missing one.
        raise NotFound("No such access token.", details={"id": token_id})
    return token


def user_active_get(*, user_id: Any) -> User:
    """The active account with this id, or 404 (an inactive account answers like a missing one)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("No such user.", details={"user_id": user_id})
    return user
