"""Retention: events older than their category's period (AUDIT_RETENTION_DAYS) are deleted in
batches, oldest first, and only as a prefix of the chain, so what remains still verifies from a
signed retention checkpoint of the last deleted event."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.chain import audit_chain_seal
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.verify import audit_checkpoint_write


def _expired(now: dt.datetime) -> Q:
    query = Q(pk__in=[])
    for category, days in settings.AUDIT_RETENTION_DAYS.items():
        query |= Q(category=category, created_at__lt=now - dt.timedelta(days=days))
    return query


def _allow_retention_delete() -> None:
    """The trigger lets DELETE through only inside a transaction that says it is the retention job."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('audit.retention', 'on', true)")


def audit_retention_run(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Delete the longest prefix of the sealed chain whose events have all expired; returns how many.

    An event whose category is kept longer stops the prefix: deleting around it would leave a hole
    the verifier could not tell from tampering. (Tool events kept 90 days behind a key event kept
    730 days wait for it; the periods are minimums, not exact lifetimes.)
    """
    now = now or timezone.now()
    limit = batch_size or settings.AUDIT_RETENTION_BATCH
    audit_chain_seal()
    deleted = 0
    while True:
        with transaction.atomic():
            start = AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.RETENTION).order_by("-seq").first()
            after = start.seq if start is not None else 0
            window = list(
                AuditEvent.chain_objects.filter(seq__gt=after)
                .order_by("seq")
                .values_list("seq", "hash", "category", "created_at")[:limit]
            )
            expired = set(
                AuditEvent.chain_objects.filter(_expired(now), seq__in=[row[0] for row in window]).values_list(
                    "seq", flat=True
                )
            )
            prefix = []
            for row in window:
                if row[0] not in expired:
                    break
                prefix.append(row)
            if not prefix:
                return deleted
            _allow_retention_delete()
            last_seq, last_hash = prefix[-1][0], prefix[-1][1]
            AuditEvent.chain_objects.filter(seq__gt=after, seq__lte=last_seq).delete()
            audit_checkpoint_write(kind=AuditCheckpoint.Kind.RETENTION, seq=last_seq, hash_=last_hash)
            deleted += len(prefix)
        if len(prefix) < limit:
            return deleted
