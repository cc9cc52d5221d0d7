"""The keyed chain: each sealed event's HMAC covers the previous event's hash and its own content.

Writers never touch the chain. The sealer (audit_chain_seal) takes committed, unsealed events in
id order, gives each whose MAC verifies (apps.audit.event_mac: the application wrote it) the next
`seq`, and links it to the one before. An event whose MAC does not verify reached the table some
other way: it is set aside (`forged`, never sealed) and `events_set_aside` raises the alert.

Because the sealer reads only what is committed, an event whose transaction commits late (a lower
id committing after a higher one was sealed) is simply sealed in a later batch with a later `seq`:
the chain is in the order events became visible, with no gap and no grace period, and the id order
does not matter. Only one sealer runs at a time (a PostgreSQL advisory lock, held for the batch's
transaction; a process lock on SQLite, where writes are serial anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal

from apps.audit.models import AuditCheckpoint, AuditEvent

logger = logging.getLogger(__name__)

# Sent after the sealer's transaction commits, with `event_ids`: events it set aside as forged.
# (apps.accounts, which knows who the operators and auditors are, mails them as for damage.)
events_set_aside = Signal()

GENESIS_HASH = "0" * 64
SEALER_LOCK_KEY = 0x61756469_74000001  # "audit" + 1: an arbitrary app-wide advisory lock id
_sqlite_sealer = threading.Lock()

# Every column an editor could change, in a fixed order; `seq` and the id are left out on purpose so
# a reordering shows as a broken link (reordered), not as an edit.
CONTENT_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "actor_type",
    "token_id",
    "subject_id",
    "category",
    "action",
    "outcome",
    "error_code",
    "target_type",
    "target_id",
    "data",
    "request_id",
    "client_address",
    "user_agent",
    "door",
    "duration_ms",
    "tokens",
    "cost",
)


def _canonical(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    return str(value)  # Decimal


def event_payload(event: AuditEvent) -> bytes:
    content = [_canonical(getattr(event, name)) for name in CONTENT_FIELDS]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_digest(event: AuditEvent, *, prev_hash: str, secret: str) -> str:
    message = prev_hash.encode() + b"\n" + event_payload(event)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def keyring() -> dict[str, str]:
    return dict(settings.AUDIT_CHAIN_KEYRING)


def current_key() -> tuple[str, str]:
    return settings.AUDIT_CHAIN_KEYRING[0]


def checkpoint_signature(*, kind: str, seq: int, hash_: str, created_at: str, secret: str) -> str:
    message = f"audit-checkpoint\n{kind}\n{seq}\n{hash_}\n{created_at}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _sealer_lock_taken() -> bool:
    """Inside the batch's transaction: True when this process may seal now."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEALER_LOCK_KEY])
            return bool(cursor.fetchone()[0])
    return True


def chain_tail() -> tuple[int, str]:
    """(seq, hash) of the newest sealed event, else of the newest retention checkpoint, else genesis."""
    last = AuditEvent.chain_objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
    if last is not None:
        return last
    checkpoint = (
        AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.RETENTION)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return checkpoint or (0, GENESIS_HASH)


def _seal_batch(limit: int) -> int | None:
    """Examine up to `limit` events, sealing those whose MAC verifies and setting the others aside;
    returns how many were examined, None when another sealer holds the lock."""
    from apps.audit.event_mac import event_mac_valid

    version, secret = current_key()
    keys = keyring()
    with transaction.atomic():
        if not _sealer_lock_taken():
            return None
        seq, prev = chain_tail()
        rows = list(AuditEvent.chain_objects.filter(seq__isnull=True, forged=False).order_by("id")[:limit])
        sealed, forged = [], []
        for row in rows:
            if not event_mac_valid(row, keys):
                forged.append(row.pk)
                continue
            seq += 1
            row.seq, row.prev_hash, row.key_version = seq, prev, version
            row.hash = prev = event_digest(row, prev_hash=prev, secret=secret)
            sealed.append(row)
        if sealed:
            _chain_columns_write(sealed)
        if forged:
            AuditEvent.chain_objects.filter(pk__in=forged).update(forged=True)
            logger.error("audit: %d event(s) whose MAC does not verify set aside as forged: %s", len(forged), forged)
            transaction.on_commit(lambda: events_set_aside.send(sender=AuditEvent, event_ids=forged))
    return len(rows)


def _chain_columns_write(rows: list[AuditEvent]) -> None:
    """One UPDATE for the whole batch. (bulk_update's CASE per column costs about 4 ms an event on
    PostgreSQL, slower than writers append; this costs a few microseconds.)"""
    if connection.vendor != "postgresql":
        AuditEvent.chain_objects.bulk_update(rows, ["seq", "prev_hash", "hash", "key_version"], batch_size=500)
        return
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, key_version = v.kv "  # noqa: S608 - our table name
            "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
            "AS v(id, seq, prev_hash, hash, kv) "
            "WHERE e.id = v.id",
            [
                [row.pk for row in rows],
                [row.seq for row in rows],
                [row.prev_hash for row in rows],
                [row.hash for row in rows],
                [row.key_version for row in rows],
            ],
        )


def audit_chain_seal(*, batch_size: int | None = None, max_batches: int = 100) -> int:
    """Link every committed, unsealed event whose MAC verifies, set the others aside (up to
    max_batches x batch_size); returns how many it examined."""
    limit = batch_size or settings.AUDIT_SEAL_BATCH
    if connection.vendor != "postgresql" and not _sqlite_sealer.acquire(blocking=False):
        return 0
    try:
        total = 0
        for _ in range(max_batches):
            sealed = _seal_batch(limit)
            if not sealed:
                break
            total += sealed
            if sealed < limit:
                break
        return total
    finally:
        if connection.vendor != "postgresql":
            _sqlite_sealer.release()
