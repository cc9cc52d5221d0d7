"""Reads of provider keys, always scoped to one owner; the secret columns are never loaded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.keys.models import ProviderKey

SECRET_COLUMNS = ("nonce", "ciphertext", "wrapped_data_key", "data_key_nonce")
# For pages that show a key's last validation (the template compares against these values).
KeyValidation = ProviderKey.Validation


def provider_key_list(*, owner: User) -> QuerySet[ProviderKey]:
    """The owner's keys (active, expired, revoked; not the superseded history), secrets deferred.

    Each row has id, provider, label, mask, status, is_default, expires_at, last_used_at; use
    `effective_status` for a status that already counts a passed expires_at.
    """
    return ProviderKey.objects.filter(owner=owner).exclude(status=ProviderKey.Status.SUPERSEDED).defer(*SECRET_COLUMNS)


def provider_key_get(*, owner: User, key_id: Any) -> ProviderKey:
    """One of the owner's keys, superseded ones included; someone else's key is NotFound, like a missing one."""
    try:
        key_id = int(key_id)
    except (TypeError, ValueError):
        raise NotFound("No such key.") from None
    key = ProviderKey.objects.filter(owner=owner, pk=key_id).select_related("owner").defer(*SECRET_COLUMNS).first()
    if key is None:
        raise NotFound("No such key.", details={"id": key_id})
    return key


def provider_key_default(*, owner: User, provider: str) -> ProviderKey | None:
    """The key the provider layer should use: the default if usable, else the newest usable one."""
    usable = ProviderKey.objects.filter(owner=owner, provider=provider, status=ProviderKey.Status.ACTIVE).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    return usable.order_by("-is_default", "-created_at", "-id").select_related("owner").first()


def provider_key_setup_state(*, owner: User) -> tuple[bool, bool]:
    """(has the owner stored any key, has one of them passed live validation), for the guided setup."""
    keys = ProviderKey.objects.filter(owner=owner)
    return keys.exists(), keys.filter(last_validation_result=ProviderKey.Validation.VALID).exists()


def provider_key_counts() -> dict[str, int]:
    """Everyone's keys (the superseded history aside) by state, for the operators' dashboard."""
    now = timezone.now()
    live = ProviderKey.objects.exclude(status=ProviderKey.Status.SUPERSEDED)
    soon = now + dt.timedelta(days=settings.KEY_EXPIRY_WARNING_DAYS)
    active = Q(status=ProviderKey.Status.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return live.aggregate(
        active=Count("id", filter=active),
        expired=Count(
            "id", filter=Q(status=ProviderKey.Status.EXPIRED) | Q(status=ProviderKey.Status.ACTIVE, expires_at__lte=now)
        ),
        revoked=Count("id", filter=Q(status=ProviderKey.Status.REVOKED)),
        expiring_soon=Count("id", filter=active & Q(expires_at__lte=soon)),
        rejected=Count("id", filter=Q(last_validation_result=ProviderKey.Validation.INVALID)),
    )
