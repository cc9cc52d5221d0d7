"""The audit trail's one writer and its verifier."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.masking import mask_text, mask_value
from apps.audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _column_text(value: Any, field: str) -> str:
    """A text column's value masked first, then cut to the column (cutting first could split a key
    into a piece the patterns no longer recognise); NUL, which PostgreSQL refuses, is replaced."""
    limit = AuditEvent._meta.get_field(field).max_length
    return mask_text(str(value)).replace("\x00", "\ufffd")[:limit]


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
    """Append one event. Every stored string is masked (the text columns and `data`), so a secret a
    caller passes by mistake, or a client sends as a name, never reaches the trail."""
    # Round-trip through JSON so the digest covers exactly what the database will return.
    masked = json.loads(json.dumps(mask_value(data or {}), default=str))
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            created_at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_label=_column_text(getattr(actor, "username", "") or "", "actor_label"),
            action=_column_text(action, "action"),
            outcome=outcome,
            target_type=_column_text(target_type, "target_type"),
            target_id=_column_text(target_id, "target_id"),
            data=masked,
            prev_hash=head.last_hash,
        )
        event.hash = _event_digest(event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


def _changed_field_names(change_message: Any) -> list[str]:
    """Field names from the admin's structured change message (its labels, never values)."""
    if isinstance(change_message, str):
        try:
            change_message = json.loads(change_message)
        except ValueError:
            return []
    fields: list[str] = []
    for part in change_message if isinstance(change_message, list) else []:
        changed = part.get("changed") if isinstance(part, dict) else None
        if isinstance(changed, dict):
            prefix = f"{changed['name']}: " if changed.get("name") else ""  # an inline's row
            fields += [f"{prefix}{name}" for name in changed.get("fields", [])]
    return fields


def audit_admin_change_record(*, actor: Any, change: str, obj: Any, change_message: Any = None) -> AuditEvent:
    """One admin addition, change or deletion (`change` is added/changed/deleted) by anyone.

    Records the object and the names of the fields that changed, never their values: a password
    change says `password`, not the hash.
    """
    opts = obj._meta
    return audit_event_record(
        action=f"admin.{change}",
        actor=actor,
        target_type=f"{opts.app_label}.{opts.model_name}",
        target_id=obj.pk if obj.pk is not None else "",
        data={"object": str(obj)[:200], "fields": _changed_field_names(change_message)},
    )


def audit_chain_verify() -> list[int]:
    """Return the ids of events whose hash or link does not match; empty means intact."""
    broken: list[int] = []
    expected_prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev or _event_digest(event) != event.hash:
            broken.append(event.pk)
        expected_prev = event.hash
    return broken
