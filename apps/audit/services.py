"""The audit trail's one writer and its verifier."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.masking import mask_value
from apps.audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _event_digest(event: AuditEvent) -> str:
    """SHA-256 over the previous hash and every field an editor could change."""
    payload = json.dumps(
        [
            event.prev_hash,
            event.created_at.isoformat(),
            event.actor_id,
            event.actor_label,
            event.action,
            event.outcome,
            event.target_type,
            event.target_id,
            event.data,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def audit_event_record(
    *,
    action: str,
    actor: Any = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    target_type: str = "",
    target_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. `data` is masked before it is stored; never pass plaintext secrets anyway."""
    # Round-trip through JSON so the digest covers exactly what the database will return.
    masked = json.loads(json.dumps(mask_value(data or {}), default=str))
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            created_at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_label=getattr(actor, "username", "") or "",
            action=action,
            outcome=outcome,
            target_type=target_type,
            target_id=str(target_id),
            data=masked,
            prev_hash=head.last_hash,
        )
        event.hash = _event_digest(event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


def audit_chain_verify() -> list[int]:
    """Return the ids of events whose hash or link does not match; empty means intact."""
    broken: list[int] = []
    expected_prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev or _event_digest(event) != event.hash:
            broken.append(event.pk)
        expected_prev = event.hash
    return broken
