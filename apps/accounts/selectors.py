"""Reads of account data, always scoped to the owner."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.roles import ROLES
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


def pat_exists(*, user: User) -> bool:
    return PersonalAccessToken.objects.filter(user=user).exists()


def pat_counts() -> dict[str, int]:
    """Everyone's personal access tokens by state, for the operators' dashboard."""
    now = timezone.now()
    return PersonalAccessToken.objects.aggregate(
        active=Count("id", filter=Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))),
        expired=Count("id", filter=Q(revoked_at__isnull=True, expires_at__lte=now)),
        revoked=Count("id", filter=Q(revoked_at__isnull=False)),
        used_today=Count("id", filter=Q(last_used_at__gte=now - dt.timedelta(days=1))),
    )


def user_counts(*, joined_since: dt.datetime) -> dict[str, Any]:
    """Accounts: total, active, joined since `joined_since`, and active members of each role."""
    by_role = dict(
        Group.objects.filter(name__in=ROLES)
        .annotate(members=Count("user", filter=Q(user__is_active=True)))
        .values_list("name", "members")
    )
    counts = User.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(is_active=True)),
        new=Count("id", filter=Q(date_joined__gte=joined_since)),
    )
    return {**counts, "roles": [(role, by_role.get(role, 0)) for role in ROLES]}


def users_active_count() -> int:
    return User.objects.filter(is_active=True).count()


def users_by_id(*, ids: set[int]) -> dict[int, User]:
    return {user.pk: user for user in User.objects.filter(pk__in=ids)} if ids else {}
