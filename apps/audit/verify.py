"""Checkpoints of the chain head, and the verifier that holds the chain against them.

A head checkpoint is a signed line "the chain ended at seq N with hash H" written outside the
database (AUDIT_CHECKPOINT_FILE, and the log) every few minutes: deleting the newest events, or
emptying the table, leaves the chain shorter than a checkpoint already says it was. A retention
checkpoint is written when old events are deleted: verification starts there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.audit.chain import (
    GENESIS_HASH,
    audit_chain_seal,
    chain_tail,
    checkpoint_signature,
    current_key,
    event_digest,
    event_payload,
    keyring,
)
from apps.audit.models import AuditCheckpoint, AuditEvent

logger = logging.getLogger("apps.audit.checkpoint")

# The kinds of damage the verifier names.
EDITED, MISSING, REORDERED, TRUNCATED, WRONG_KEY = "edited", "missing", "reordered", "truncated", "wrong_key"


@dataclass(frozen=True)
class Checkpoint:
    kind: str
    seq: int
    hash: str
    key_version: str
    created_at: str
    signature: str

    def valid(self) -> bool:
        secret = keyring().get(self.key_version)
        if secret is None:
            return False
        expected = checkpoint_signature(
            kind=self.kind, seq=self.seq, hash_=self.hash, created_at=self.created_at, secret=secret
        )
        return hmac.compare_digest(expected, self.signature)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    damage: str = ""  # one of the kinds above; empty when intact
    event_id: int | None = None
    seq: int | None = None
    detail: str = ""

    @property
    def intact(self) -> bool:
        return not self.damage


def _checkpoint_new(*, kind: str, seq: int, hash_: str, at: dt.datetime) -> Checkpoint:
    version, secret = current_key()
    created_at = at.isoformat()
    signature = checkpoint_signature(kind=kind, seq=seq, hash_=hash_, created_at=created_at, secret=secret)
    return Checkpoint(kind, seq, hash_, version, created_at, signature)


def _checkpoint_publish(checkpoint: Checkpoint) -> None:
    """Outside the database: a line appended to the checkpoint file, and the same line in the log."""
    line = json.dumps(checkpoint.__dict__, sort_keys=True)
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(line + "\n")
    logger.info("audit checkpoint %s", line)


def audit_checkpoint_write(
    *, kind: str = AuditCheckpoint.Kind.HEAD, seq: int | None = None, hash_: str = ""
) -> Checkpoint:
    """Seal what is committed, then sign the head (or the given position) into the file, the log and
    the checkpoint table."""
    if seq is None:
        audit_chain_seal()
        seq, hash_ = chain_tail()
    at = timezone.now()
    checkpoint = _checkpoint_new(kind=kind, seq=seq, hash_=hash_, at=at)
    AuditCheckpoint.objects.create(
        kind=kind,
        created_at=at,
        seq=seq,
        hash=hash_,
        key_version=checkpoint.key_version,
        signature=checkpoint.signature,
    )
    _checkpoint_publish(checkpoint)
    return checkpoint


def _file_head() -> Checkpoint | None:
    """The newest head checkpoint in the file (the file is small: a line every few minutes)."""
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    if not path.exists():
        return None
    newest: Checkpoint | None = None
    with path.open() as handle:
        for line in handle:
            try:
                checkpoint = Checkpoint(**json.loads(line))
            except (ValueError, TypeError):
                continue
            if newest is None or checkpoint.seq >= newest.seq:
                newest = checkpoint
    return newest


def _from_row(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(row.kind, row.seq, row.hash, row.key_version, row.created_at.isoformat(), row.signature)


def _start() -> tuple[int, str, VerifyResult | None]:
    row = AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.RETENTION).order_by("-seq").first()
    if row is None:
        return 0, GENESIS_HASH, None
    if not _from_row(row).valid():
        return 0, GENESIS_HASH, VerifyResult(0, WRONG_KEY, seq=row.seq, detail="retention checkpoint signature")
    return row.seq, row.hash, None


def _content_damage(event: AuditEvent, keys: dict[str, str]) -> str:
    """'' if the event's HMAC holds, else edited or wrong_key (no key of ours made this hash)."""
    secret = keys.get(event.key_version)
    if secret is not None and hmac.compare_digest(
        event_digest(event, prev_hash=event.prev_hash or "", secret=secret), event.hash or ""
    ):
        return ""
    plain = hashlib.sha256((event.prev_hash or "").encode() + b"\n" + event_payload(event)).hexdigest()
    others = (
        event_digest(event, prev_hash=event.prev_hash or "", secret=other)
        for version, other in keys.items()
        if version != event.key_version
    )
    if secret is None or event.hash == plain or event.hash in set(others):
        return WRONG_KEY
    return EDITED


def audit_chain_verify() -> VerifyResult:
    """Walk the chain from the last retention checkpoint to the newest sealed event, then hold the
    end against the newest head checkpoint. Stops at the first damage."""
    keys = keyring()
    expected_prev_seq, expected_prev, refused = _start()
    if refused is not None:
        return refused
    checked, last_seq = 0, expected_prev_seq
    expected_prev_seq_start = expected_prev_seq
    sealed = AuditEvent.chain_objects.filter(seq__gt=expected_prev_seq).order_by("seq")
    for event in sealed.iterator(chunk_size=2000):
        damage = _content_damage(event, keys)
        if damage:
            return VerifyResult(checked, damage, event.pk, event.seq, "its hash does not match its content")
        if event.prev_hash != expected_prev:
            known = AuditEvent.chain_objects.filter(hash=event.prev_hash).exists()
            if known:
                return VerifyResult(checked, REORDERED, event.pk, event.seq, "it links to an event elsewhere")
            return VerifyResult(
                checked, MISSING, event.pk, event.seq, f"the event before it (after seq {last_seq}) is gone"
            )
        expected_prev, last_seq = event.hash, event.seq
        checked += 1
    return _head_check(checked=checked, start_seq=expected_prev_seq_start, last_seq=last_seq)


def _head_check(*, checked: int, start_seq: int, last_seq: int) -> VerifyResult:
    database_head = AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.HEAD).order_by("-seq").first()
    candidates = [_file_head(), _from_row(database_head) if database_head is not None else None]
    for head in candidates:
        if head is None or head.seq <= start_seq:
            continue
        if not head.valid():
            return VerifyResult(checked, WRONG_KEY, seq=head.seq, detail="head checkpoint signature")
        if head.seq > last_seq:
            return VerifyResult(
                checked,
                TRUNCATED,
                seq=last_seq + 1,
                detail=f"a checkpoint says the chain reached seq {head.seq}; it ends at {last_seq}",
            )
        at = AuditEvent.chain_objects.filter(seq=head.seq).values_list("id", "hash").first()
        if at is None or at[1] != head.hash:
            return VerifyResult(checked, EDITED, at[0] if at else None, head.seq, "differs from its checkpoint")
    return VerifyResult(checked)
