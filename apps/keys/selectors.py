"""Reads of provider keys, always scoped to one owner; the secret columns are never loaded."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.keys.models import ProviderKey

SECRET_COLUMNS = ("nonce", "ciphertext", "wrapped_data_key", "data_key_nonce")


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
