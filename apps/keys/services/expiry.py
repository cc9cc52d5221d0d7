"""Key expiry: marking keys past expires_at expired, and warning owners once before that."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.keys.models import ProviderKey
from apps.keys.services.common import (
    _audit,
)
from apps.providers.registry import provider_spec_get

logger = logging.getLogger(__name__)


def _mark_expired(row: ProviderKey) -> bool:
    with transaction.atomic():
        updated = ProviderKey.objects.filter(pk=row.pk, status=ProviderKey.Status.ACTIVE).update(
            status=ProviderKey.Status.EXPIRED, updated_at=timezone.now()
        )
        row.status = ProviderKey.Status.EXPIRED
        if updated:
            _audit("provider_key.expired", actor=None, key=row, expires_at=row.expires_at.isoformat())
    return bool(updated)


def _expiry_warning_send(row: ProviderKey) -> bool:
    owner = row.owner
    if not owner.email:
        return False
    spec = provider_spec_get(row.provider)
    when = row.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    send_mail(
        subject=f"Your {spec.display_name} key '{row.label}' expires on {when}",
        message=(
            f"Hello {owner.username},\n\n"
            f"your {spec.display_name} key '{row.label}' ({row.mask}) stored in the Todo MCP Gateway "
            f"expires on {when}. After that the gateway stops using it.\n\n"
            "To keep things working, rotate it with a fresh key from your provider "
            f"({spec.keys_url or 'your provider console'}) on your keys page.\n"
        ),
        from_email=None,
        recipient_list=[owner.email],
    )
    return True


def provider_keys_expire_and_warn(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: mark keys past expires_at expired, and warn owners once, N days ahead."""
    now = now or timezone.now()
    expired = 0
    for row in ProviderKey.objects.filter(status=ProviderKey.Status.ACTIVE, expires_at__lte=now).select_related(
        "owner"
    ):
        expired += _mark_expired(row)

    warned = 0
    horizon = now + dt.timedelta(days=settings.KEY_EXPIRY_WARNING_DAYS)
    candidates = ProviderKey.objects.filter(
        status=ProviderKey.Status.ACTIVE, expiry_warned_at__isnull=True, expires_at__gt=now, expires_at__lte=horizon
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            # Locked and re-checked, so two overlapping runs warn once; if mailing fails the
            # transaction rolls back and the next run tries again.
            row = (
                ProviderKey.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, expiry_warned_at__isnull=True, status=ProviderKey.Status.ACTIVE)
                .select_related("owner")
                .first()
            )
            if row is None:
                continue
            emailed = _expiry_warning_send(row)
            row.expiry_warned_at = now
            row.save(update_fields=["expiry_warned_at", "updated_at"])
            _audit(
                "provider_key.expiry_warned",
                actor=None,
                key=row,
                expires_at=row.expires_at.isoformat(),
                emailed=emailed,
                warning_days=settings.KEY_EXPIRY_WARNING_DAYS,
            )
            warned += 1
    if expired or warned:
        logger.info("key expiry: %d marked expired, %d owners warned", expired, warned)
    return {"expired": expired, "warned": warned}
