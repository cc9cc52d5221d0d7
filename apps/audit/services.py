"""The audit trail's one writer: a plain INSERT inside the caller's transaction.

(`audit_event_build` gives the same event unsaved, for a caller that inserts it in one statement
with its own row; the tool pipeline does, apps.core.database.rows_insert.)

No lock and no chain work here: the event commits or rolls back with the operation it records,
carrying the MAC computed here over all its columns (apps.audit.event_mac), and the sealer
(apps.audit.chain) links it into the keyed chain a second or two later if that MAC verifies. Who, from
where and through which door come from the request context (apps.core.request_context) unless a
caller says otherwise; every stored string is masked on the way in.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.audit.event_mac import cost_quantize, event_mac_set, json_float
from apps.audit.masking import mask_audit_text, mask_value
from apps.audit.models import AuditEvent
from apps.core.request_context import request_context_current
from apps.core.request_id import request_id_current


class _FromContext:
    """Default for `actor`: the authenticated caller of the current request, if any."""

    def __repr__(self) -> str:
        return "FROM_CONTEXT"


FROM_CONTEXT: Any = _FromContext()

# Action prefix -> category, for callers that do not name one.
CATEGORY_BY_PREFIX = {
    "provider_key": "key",
    "access_token": "token",
    "user": "auth",
    "auth": "auth",
    "refresh_token": "auth",
    "jwt_session": "auth",
    "tool": "tool",
    "tool_policy": "admin",
    "todo": "todo",
    "admin": "admin",
    "provider": "provider",
    "quota": "quota",
    "budget": "quota",
}


def category_for(action: str) -> str:
    return CATEGORY_BY_PREFIX.get(action.partition(".")[0], AuditEvent.Category.SYSTEM)


def _column_text(value: Any, field: str) -> str:
    """A text column's value masked first, then cut to the column (cutting first could split a key
    into a piece the patterns no longer recognise); NUL, which PostgreSQL refuses, is replaced."""
    limit = AuditEvent._meta.get_field(field).max_length
    return mask_audit_text(str(value)).replace("\x00", "\ufffd")[:limit]


def _json_safe(value: Any) -> Any:
    """Masked, NUL-free, and exactly what the JSON column will give back on either database (an
    integral float as an integer, as jsonb gives it back), so the event's MAC holds for the stored row."""
    text = json.dumps(mask_value(value or {}, text=mask_audit_text), default=str).replace("\\u0000", "\ufffd")
    return json.loads(text, parse_float=json_float)


def _now_ms() -> dt.datetime:
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def audit_event_build(
    *,
    action: str,
    actor: Any = FROM_CONTEXT,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    category: str | None = None,
    target_type: str = "",
    target_id: str | int = "",
    data: dict[str, Any] | None = None,
    error_code: str = "",
    subject: Any = None,
    token_id: int | None = None,
    door: str | None = None,
    duration_ms: float | None = None,
    tokens: int | None = None,
    cost: Decimal | float | None = None,
    actor_type: str | None = None,
) -> AuditEvent:
    """One event, masked, MACed and ready to insert but not saved (a caller inserting it beside another
    row in one statement, apps.core.database.rows_insert; changing it afterwards breaks its MAC).
    `actor` is a user (or anything with pk and username), None for the system, or by default the
    request's authenticated caller."""
    context = request_context_current()
    if actor is FROM_CONTEXT:
        actor_id, actor_label = context.actor_id, context.actor_label
        token_id = token_id if token_id is not None else context.token_id
    else:
        actor_id = getattr(actor, "pk", None)
        actor_label = getattr(actor, "username", "") or ""
        if token_id is None and actor_id is not None and actor_id == context.actor_id:
            token_id = context.token_id
    if not actor_type and actor_id is not None and actor_id == context.actor_id:
        actor_type = context.actor_type
    if not actor_type:
        actor_type = "token" if token_id is not None else ("user" if actor_id is not None else "system")
    subject_id = getattr(subject, "pk", subject)
    event = AuditEvent(
        created_at=_now_ms(),
        actor_id=actor_id,
        actor_label=_column_text(actor_label, "actor_label"),
        actor_type=actor_type,
        token_id=token_id,
        subject_id=subject_id if subject_id != actor_id else None,
        category=category or category_for(action),
        action=_column_text(action, "action"),
        outcome=outcome,
        error_code=_column_text(error_code, "error_code"),
        target_type=_column_text(target_type, "target_type"),
        target_id=_column_text(target_id, "target_id"),
        data=_json_safe(data),
        request_id=_column_text(request_id_current(), "request_id"),
        client_address=_column_text(context.client_address, "client_address"),
        user_agent=_column_text(context.user_agent, "user_agent"),
        door=_column_text(door or context.door, "door"),
        duration_ms=duration_ms,
        tokens=tokens,
        cost=cost_quantize(cost) if cost is not None else None,
    )
    event_mac_set(event)  # last: it covers every value above, exactly as the row will hold it
    return event


def audit_event_record(**fields: Any) -> AuditEvent:
    """Append one event, inserted in the caller's transaction; the arguments are `audit_event_build`'s
    (one signature, so the event a caller records and the one the pipeline inserts are built alike)."""
    event = audit_event_build(**fields)
    event.save(force_insert=True)
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
        category=AuditEvent.Category.ADMIN,
        door="admin",
        target_type=f"{opts.app_label}.{opts.model_name}",
        target_id=obj.pk if obj.pk is not None else "",
        data={"object": str(obj)[:200], "fields": _changed_field_names(change_message)},
    )
