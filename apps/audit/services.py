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


def _event_digest(
    *,
    prev_hash: str,
    created_at: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    outcome: str,
    target_type: str,
    target_id: str,
    data: Any,
) -> str:
    payload = json.dumps(
        [prev_hash, created_at, actor_id, actor_label, action, outcome, target_type, target_id, data],
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
    masked = mask_value(data or {})
    # Round-trip through JSON so the digest covers exactly what the database will return.
    masked = json.loads(json.dumps(masked, default=str))
    actor_id = getattr(actor, "pk", None)
    actor_label = getattr(actor, "username", "") or ""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        created_at = timezone.now()
        digest = _event_digest(
            prev_hash=head.last_hash,
            created_at=created_at.isoformat(),
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            outcome=outcome,
            target_type=target_type,
            target_id=str(target_id),
            data=masked,
        )
        event = AuditEvent.objects.create(
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            outcome=outcome,
            target_type=target_type,
            target_id=str(target_id),
            data=masked,
            prev_hash=head.last_hash,
            hash=digest,
        )
        head.last_hash = digest
        head.save(update_fields=["last_hash"])
    return event


def audit_chain_verify() -> list[int]:
    """Return the ids of events whose hash or link does not match; empty means intact."""
    broken: list[int] = []
    expected_prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        digest = _event_digest(
            prev_hash=event.prev_hash,
            created_at=event.created_at.isoformat(),
            actor_id=event.actor_id,
            actor_label=event.actor_label,
            action=event.action,
            outcome=event.outcome,
            target_type=event.target_type,
            target_id=event.target_id,
            data=event.data,
        )
        if event.prev_hash != expected_prev or digest != event.hash:
            broken.append(event.pk)
        expected_prev = event.hash
    return broken
