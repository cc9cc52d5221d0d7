"""Account services: the only code that creates users, changes roles or revokes tokens."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import User
from apps.accounts.roles import ROLES, STAFF_ROLES, roles_sync
from apps.core.errors import Conflict, InvalidInput


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    role: str = "user",
    timezone_name: str = "UTC",
) -> User:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", details={"role": [f"Must be one of {list(ROLES)}."]})
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("That username is taken.", details={"username": ["That username is taken."]})
    user = User(username=username, email=email, timezone=timezone_name)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak.", details={"password": exc.messages}) from None
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The account details are invalid.", details=exc.message_dict) from None
    user.save()
    user_set_role(user=user, role=role)
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str) -> User:
    """Give the user exactly one role; staff access follows the role."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.")
    group = Group.objects.filter(name=role).first()
    if group is None:
        roles_sync()
        group = Group.objects.get(name=role)
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(group)
    user.is_staff = role in STAFF_ROLES or user.is_superuser
    user.save(update_fields=["is_staff"])
    return user


def user_update_profile(*, user: User, email: str | None = None, timezone_name: str | None = None) -> User:
    if email is not None:
        user.email = email
    if timezone_name is not None:
        user.timezone = timezone_name
    try:
        user.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The profile is invalid.", details=exc.message_dict) from None
    user.save(update_fields=["email", "timezone"])
    return user


def refresh_token_revoke(*, refresh: str) -> None:
    """Log out: the refresh token can no longer be used to obtain access tokens."""
    try:
        RefreshToken(refresh).blacklist()
    except TokenError as exc:
        raise InvalidInput("The refresh token is invalid or already revoked.", code="token_not_valid") from exc


def tokens_flush_expired() -> int:
    """Delete refresh-token bookkeeping rows that have expired (their blacklist rows go with them)."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
