"""Checkpoints of the chain head, and the verifier that holds the chain against them.

A head checkpoint is a signed line "the chain ended at seq N with hash H" written outside the
database: appended to AUDIT_CHECKPOINT_FILE and logged (apps.audit.checkpoint). The sealer's job
publishes one at least every AUDIT_CHECKPOINT_SECONDS while the head moves (one line, no table row),
and `audit.checkpoint` every few minutes also keeps a copy in the table. Deleting the newest events,
or emptying the table, leaves the chain shorter than a checkpoint already says it was: only events
newer than the newest checkpoint (AUDIT_SEAL_INTERVAL_SECONDS + AUDIT_CHECKPOINT_SECONDS, 11 s by
default) can go unseen. A retention checkpoint is written when old events are deleted: verification
starts there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
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
from apps.audit.event_mac import event_mac_valid
from apps.audit.models import AuditCheckpoint, AuditEvent

logger = logging.getLogger("apps.audit.checkpoint")
LOG_MARKER = "audit checkpoint "
TAIL_BLOCK = 64 * 1024

# The kinds of damage the verifier names.
EDITED, MISSING, REORDERED, TRUNCATED, WRONG_KEY = "edited", "missing", "reordered", "truncated", "wrong_key"
FORGED = "forged"


class CheckpointRefused(Exception):
    """No head checkpoint over damage the verifier has to name first."""


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
    logger.info("%s%s", LOG_MARKER, line)


def audit_seal_and_checkpoint() -> int:
    """The sealer's job: seal, then publish a head checkpoint (file and log, no table row) when the
    head has moved past the file's newest line and that line is about AUDIT_CHECKPOINT_SECONDS old.

    The file is the state (its newest line and its modification time), so every worker on the host
    agrees without a query or a cache; the job runs every AUDIT_SEAL_INTERVAL_SECONDS, so publishing
    that much early keeps the lines at most AUDIT_CHECKPOINT_SECONDS apart. Returns how many events
    the seal examined.
    """
    examined = audit_chain_seal()
    seq, hash_ = chain_tail()
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    newest = _file_head()
    if newest is not None and newest.seq == seq:
        return examined  # nothing new since the newest line: no line while no events arrive
    if newest is not None:
        due_after = max(settings.AUDIT_CHECKPOINT_SECONDS - settings.AUDIT_SEAL_INTERVAL_SECONDS, 0)
        if time.time() - path.stat().st_mtime < due_after:
            return examined
    if seq and _chain_still_holds(newest):
        _checkpoint_publish(_checkpoint_new(kind=AuditCheckpoint.Kind.HEAD, seq=seq, hash_=hash_, at=timezone.now()))
    return examined


def _chain_still_holds(newest: Checkpoint | None) -> bool:
    """Whether the chain still has the newest published checkpoint's hash at its place (or retention
    deleted it). Otherwise events it covered were deleted (and new ones sealed into their places):
    a newer line would cover that over, so none is written until the damage is dealt with, and the
    verifier, holding the chain against this newest line, names it."""
    if newest is None or newest.kind != AuditCheckpoint.Kind.HEAD:
        return True
    at = AuditEvent.chain_objects.filter(seq=newest.seq).values_list("hash", flat=True).first()
    if at == newest.hash:
        return True
    retention = AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.RETENTION, seq__gte=newest.seq).first()
    retained = retention is not None and _from_row(retention).valid()
    if not retained:
        logger.error(
            "audit: the chain no longer holds the checkpoint at seq %s: events it covered are gone; "
            "no new checkpoint until `manage.py audit_verify` has been looked at",
            newest.seq,
        )
    return retained


def audit_checkpoint_write(
    *, kind: str = AuditCheckpoint.Kind.HEAD, seq: int | None = None, hash_: str = ""
) -> Checkpoint:
    """Seal what is committed, then sign the head (or the given position) into the file, the log and
    the checkpoint table. Refused (CheckpointRefused) while the chain no longer holds the newest
    checkpoint of the file: a new head would cover the damage over."""
    if seq is None:
        audit_chain_seal()
        seq, hash_ = chain_tail()
        if not _chain_still_holds(_file_head()):
            raise CheckpointRefused("the chain no longer holds the newest checkpoint; run `manage.py audit_verify`")
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


def _file_line(line: str) -> dict | None:
    return json.loads(line) if line.startswith("{") else None


def _log_line(line: str) -> dict | None:
    """The checkpoint in a log line `... audit checkpoint {...}`, whatever the log's prefix."""
    start = line.find(LOG_MARKER + "{")
    if start < 0:
        return None
    value, _ = json.JSONDecoder().raw_decode(line, start + len(LOG_MARKER))
    return value


def _newest_checkpoint(path: Path, parse: Callable[[str], dict | None]) -> Checkpoint | None:
    """The newest (highest seq) checkpoint among the last lines of a file that holds any.

    Lines are appended in order, so the newest is near the end: only the tail is read, a longer one
    each time it holds no checkpoint (a log holds other lines too), whatever the file's size.
    """
    try:
        handle = path.open("rb")
    except OSError:
        return None
    with handle:
        size = handle.seek(0, os.SEEK_END)
        span = TAIL_BLOCK
        while True:
            start = max(0, size - span)
            handle.seek(start)
            lines = handle.read(size - start).decode("utf-8", "replace").splitlines()
            found = []
            for line in lines[1:] if start else lines:  # the first line of a tail may be cut
                try:
                    fields = parse(line.strip())
                    if fields is not None:
                        found.append(Checkpoint(**fields))
                except (ValueError, TypeError):
                    continue
            if found:
                return max(found, key=lambda checkpoint: checkpoint.seq)
            if not start:
                return None
            span *= 4


def _file_head() -> Checkpoint | None:
    return _newest_checkpoint(Path(settings.AUDIT_CHECKPOINT_FILE), _file_line)


def _log_heads(log_paths: Sequence[str | Path] | None) -> list[Checkpoint | None]:
    paths = log_paths if log_paths is not None else [p for p in [settings.AUDIT_CHECKPOINT_LOG] if p]
    return [_newest_checkpoint(Path(path), _log_line) for path in paths]


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


def _set_aside_damage(keys: dict[str, str]) -> VerifyResult | None:
    """The first unsealed event the application did not write (its MAC fails, or the sealer set it
    aside): `forged`. Unsealed events are few (a partial index), so this costs little."""
    for event in AuditEvent.chain_objects.filter(seq__isnull=True).order_by("id").iterator(chunk_size=2000):
        valid = event_mac_valid(event, keys)
        if not valid:
            return VerifyResult(0, FORGED, event.pk, None, "its MAC does not verify: the application did not write it")
        if event.forged:
            return VerifyResult(0, EDITED, event.pk, None, "set aside as forged, yet its MAC verifies")
    return None


def audit_chain_verify(*, log_paths: Sequence[str | Path] | None = None) -> VerifyResult:
    """Name forged events, walk the chain from the last retention checkpoint to the newest sealed
    event, then hold the end against the newest head checkpoint of the file, of the log
    (`log_paths`, by default AUDIT_CHECKPOINT_LOG) and of the table. Stops at the first damage."""
    keys = keyring()
    expected_prev_seq, expected_prev, refused = _start()
    if refused is not None:
        return refused
    forged = _set_aside_damage(keys)
    if forged is not None:
        return forged
    checked, last_seq = 0, expected_prev_seq
    expected_prev_seq_start = expected_prev_seq
    sealed = AuditEvent.chain_objects.filter(seq__gt=expected_prev_seq).order_by("seq")
    for event in sealed.iterator(chunk_size=2000):
        damage = _content_damage(event, keys)
        if damage:
            return VerifyResult(checked, damage, event.pk, event.seq, "its hash does not match its content")
        # (Events sealed before MACs existed have none; the chain alone vouches for them.)
        if event.mac and not event_mac_valid(event, keys):
            return VerifyResult(checked, EDITED, event.pk, event.seq, "its MAC was changed after it was sealed")
        if event.prev_hash != expected_prev:
            known = AuditEvent.chain_objects.filter(hash=event.prev_hash).exists()
            if known:
                return VerifyResult(checked, REORDERED, event.pk, event.seq, "it links to an event elsewhere")
            return VerifyResult(
                checked, MISSING, event.pk, event.seq, f"the event before it (after seq {last_seq}) is gone"
            )
        expected_prev, last_seq = event.hash, event.seq
        checked += 1
    return _head_check(checked=checked, start_seq=expected_prev_seq_start, last_seq=last_seq, log_paths=log_paths)


def _head_check(*, checked: int, start_seq: int, last_seq: int, log_paths: Sequence[str | Path] | None) -> VerifyResult:
    database_head = AuditCheckpoint.objects.filter(kind=AuditCheckpoint.Kind.HEAD).order_by("-seq").first()
    candidates = [
        ("the checkpoint file", _file_head()),
        *(("the log", head) for head in _log_heads(log_paths)),
        ("the checkpoint table", _from_row(database_head) if database_head is not None else None),
    ]
    for source, head in candidates:
        if head is None or head.seq <= start_seq:
            continue
        if not head.valid():
            return VerifyResult(checked, WRONG_KEY, seq=head.seq, detail=f"head checkpoint signature in {source}")
        if head.seq > last_seq:
            return VerifyResult(
                checked,
                TRUNCATED,
                seq=last_seq + 1,
                detail=f"{source} says the chain reached seq {head.seq}; it ends at {last_seq}",
            )
        at = AuditEvent.chain_objects.filter(seq=head.seq).values_list("id", "hash").first()
        if at is None or at[1] != head.hash:
            return VerifyResult(checked, EDITED, at[0] if at else None, head.seq, f"differs from {source}")
    return VerifyResult(checked)
