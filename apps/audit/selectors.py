"""Reads of the audit trail: who may see what, the filters every reader shares, keyset pages and a
bounded-memory walk for exports.

Visibility: holders of `audit.view_auditevent` (operators and auditors, through their roles) see
every event; anyone else sees the events they did and the events about them (an operator acting
for them), never another user's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.audit.chain import CONTENT_FIELDS, keyring
from apps.audit.integrity import FORGED, INTEGRITY_COLUMNS, PENDING, SEALED, event_integrity
from apps.audit.models import AuditEvent

# What a list row and an export row carry: the id, the event's integrity (apps.audit.integrity; next
# to the id, so a forged row is the first thing a reader sees) and the content. The chain columns
# themselves are the verifier's business.
LOG_FIELDS = ("id", "integrity", *CONTENT_FIELDS)
# What is read to build one: the content and what the integrity is decided from.
_STORED_FIELDS = ("id", *CONTENT_FIELDS, *INTEGRITY_COLUMNS)
EXPORT_CHUNK = 2000
# What a reader may filter on (the activity page's form offers these).
AUDIT_CATEGORY_CHOICES = AuditEvent.Category.choices
AUDIT_OUTCOME_CHOICES = AuditEvent.Outcome.choices


@dataclass(frozen=True)
class AuditFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    category: str = ""
    action: str = ""
    outcome: str = ""
    door: str = ""
    tool: str = ""
    provider: str = ""
    actor: str = ""  # a user id or user name; staff only (others see only themselves anyway)
    request_id: str = ""
    integrity: str = ""  # sealed, pending or forged (audit_events_of_integrity)


def audit_sees_everyone(user: Any) -> bool:
    return bool(user.is_active and user.has_perm("audit.view_auditevent"))


def audit_events_visible(*, user: Any, own_only: bool = False) -> QuerySet[AuditEvent]:
    """`own_only`: the user's own trail even for an operator (the activity page is about oneself)."""
    events = AuditEvent.objects.all()
    if audit_sees_everyone(user) and not own_only:
        return events
    return events.filter(Q(actor_id=user.pk) | Q(subject_id=user.pk))


def audit_events_filtered(*, user: Any, filters: AuditFilters, own_only: bool = False) -> QuerySet[AuditEvent]:
    events = audit_events_visible(user=user, own_only=own_only)
    exact = {
        "category": filters.category,
        "action": filters.action,
        "outcome": filters.outcome,
        "door": filters.door,
        "request_id": filters.request_id,
    }
    events = events.filter(**{name: value for name, value in exact.items() if value})
    if filters.since is not None:
        events = events.filter(created_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(created_at__lt=filters.until)
    if filters.tool:
        events = events.filter(target_type="tool", target_id=filters.tool)
    if filters.provider:
        events = events.filter(Q(category="provider", target_id=filters.provider) | Q(data__provider=filters.provider))
    if filters.actor:
        by_id = Q(actor_id=int(filters.actor)) if filters.actor.isdigit() else Q(pk__in=[])
        events = events.filter(by_id | Q(actor_label=filters.actor))
    if filters.integrity:
        events = audit_events_of_integrity(events=events, integrity=filters.integrity)
    return events


def audit_events_of_integrity(*, events: QuerySet[AuditEvent], integrity: str) -> QuerySet[AuditEvent]:
    """The events of one integrity state, as far as the database and the unsealed events' MACs tell.

    `forged`: those the sealer set aside, and unsealed ones whose MAC fails (the sealer sets them
    aside within a second; until then, and where no sealer runs, their MACs are checked here: one
    pass over the unsealed events, a partial index). `pending`: unsealed ones whose MAC verifies.
    `sealed`: those with a place in the chain; a row whose seal itself fails (a `seq` and `hash`
    written by hand) is among them, marked `forged` on its row, and named by `audit_verify`: telling
    it apart in SQL would mean checking every sealed row's HMAC.
    """
    if integrity not in (SEALED, PENDING, FORGED):
        raise ValueError(f"unknown integrity {integrity!r}")
    if integrity == SEALED:
        return events.filter(seq__isnull=False, forged=False)
    unsealed = events.filter(seq__isnull=True, forged=False)
    rows = _rows_marked(unsealed.values(*_STORED_FIELDS).iterator(chunk_size=EXPORT_CHUNK))
    failing = [row["id"] for row in rows if row["integrity"] == FORGED]
    if integrity == PENDING:
        return unsealed.exclude(pk__in=failing)
    return events.filter(Q(forged=True) | Q(pk__in=failing))


def _rows_marked(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each row with its integrity, without the columns it was decided from (one or two HMACs a row)."""
    keys = keyring()
    for row in rows:
        row["integrity"] = event_integrity(SimpleNamespace(**row), keys)
        for name in INTEGRITY_COLUMNS:
            del row[name]
        yield row


def audit_page(
    *, events: QuerySet[AuditEvent], before_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first, `limit` rows below `before_id`; returns the rows and the next cursor (or None)."""
    if before_id is not None:
        events = events.filter(pk__lt=before_id)
    rows = list(events.order_by("-id").values(*_STORED_FIELDS)[: limit + 1])
    more = len(rows) > limit
    rows = list(_rows_marked(rows[:limit]))
    return rows, (rows[-1]["id"] if more and rows else None)


def audit_rows_walk(*, events: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """Every row, newest first, one keyset chunk at a time: memory stays at one chunk whatever the
    size, and no cursor or transaction stays open while the client reads."""
    before: int | None = None
    while True:
        chunk = events.order_by("-id")
        if before is not None:
            chunk = chunk.filter(pk__lt=before)
        rows = list(chunk.values(*_STORED_FIELDS)[:EXPORT_CHUNK])
        yield from _rows_marked(rows)
        if len(rows) < EXPORT_CHUNK:
            return
        before = rows[-1]["id"]


def audit_event_counts(*, since: dt.datetime) -> dict[str, int]:
    """Everyone's events: in total, since `since`, and refusals (outcome denied) since `since`."""
    return AuditEvent.objects.aggregate(
        total=Count("id"),
        today=Count("id", filter=Q(created_at__gte=since)),
        denied_today=Count("id", filter=Q(created_at__gte=since, outcome="denied")),
    )
