"""The unverifiable tail is bounded: the sealer's job publishes a signed head checkpoint (file and log)
at least every AUDIT_CHECKPOINT_SECONDS while events arrive, and audit_verify holds the database
against the newest one in the file and in the log."""

import json
import logging
import os
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.services import audit_event_record
from apps.audit.tasks import seal
from apps.audit.tests.conftest import sql
from apps.audit.verify import audit_chain_verify

pytestmark = pytest.mark.django_db


def record(n: int) -> list[AuditEvent]:
    return [audit_event_record(action="todo.created", actor=None, target_id=i) for i in range(n)]


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def age(path, seconds: float) -> None:
    """As if the newest line had been written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_sealers_job_checkpoints_so_a_deleted_newest_event_is_caught(checkpoint_file):
    events = record(3)

    seal.delay()

    (line,) = lines(checkpoint_file)
    assert line["kind"] == "head" and line["seq"] == 3
    assert not AuditCheckpoint.objects.exists()  # off the table: one line, no row
    sql("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    message = str(failure.value)
    assert "truncated" in message and "the checkpoint file says the chain reached seq 3" in message


def test_checkpoints_come_every_interval_while_events_arrive_and_stop_when_they_stop(checkpoint_file, settings):
    settings.AUDIT_CHECKPOINT_SECONDS, settings.AUDIT_SEAL_INTERVAL_SECONDS = 10, 1
    record(1)
    seal.delay()
    record(1)
    seal.delay()
    assert [line["seq"] for line in lines(checkpoint_file)] == [1]  # the newest line is fresh

    age(checkpoint_file, 8)
    seal.delay()
    assert [line["seq"] for line in lines(checkpoint_file)] == [1]
    age(checkpoint_file, 9)  # the job runs every second: at 9 s the next run would be too late
    seal.delay()
    assert [line["seq"] for line in lines(checkpoint_file)] == [1, 2]

    age(checkpoint_file, 3600)
    seal.delay()  # nothing arrived: no line
    assert [line["seq"] for line in lines(checkpoint_file)] == [1, 2]
    assert audit_chain_verify().intact


def test_the_logged_checkpoint_catches_a_deleted_tail_when_the_file_is_gone(caplog, tmp_path, settings):
    caplog.set_level(logging.INFO, logger="apps.audit.checkpoint")
    events = record(4)
    seal.delay()
    shipped = tmp_path / "gateway.log"
    # The shipped log: the checkpoint line among a lot of others, after it too.
    noise = "".join(f"2026-12-05 12:00:{i % 60:02d} INFO apps.web GET /settings/ 200\n" for i in range(5000))
    logged = [record for record in caplog.records if record.name == "apps.audit.checkpoint"]
    checkpoint_lines = "".join(f"2026-12-05 12:00:00 INFO {r.name} {r.getMessage()}\n" for r in logged)
    shipped.write_text(noise + checkpoint_lines + noise)
    settings.AUDIT_CHECKPOINT_FILE.unlink()  # the file is gone (or was rewritten); the log was shipped
    sql("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[-1].pk, events[-2].pk])

    result = audit_chain_verify(log_paths=[shipped])
    assert result.damage == "truncated" and "the log says the chain reached seq 4" in result.detail
    settings.AUDIT_CHECKPOINT_LOG = str(shipped)  # what the daily job and the command read
    with pytest.raises(CommandError, match="truncated"):
        call_command("audit_verify")
    with pytest.raises(CommandError, match="the log says"):
        call_command("audit_verify", logs=[str(shipped)])


def test_a_forged_line_in_the_log_is_refused(tmp_path):
    record(2)
    seal.delay()
    forged = {"kind": "head", "seq": 2, "hash": "f" * 64, "key_version": "v1", "created_at": "x", "signature": "0" * 64}
    shipped = tmp_path / "gateway.log"
    shipped.write_text(f"2026-12-05 INFO apps.audit.checkpoint audit checkpoint {json.dumps(forged)}\n")
    result = audit_chain_verify(log_paths=[shipped])
    assert result.damage == "wrong_key" and "in the log" in result.detail


def test_events_sealed_into_the_places_of_deleted_ones_get_no_checkpoint_that_would_hide_it(checkpoint_file, caplog):
    """Delete the newest events, let new ones take their seqs: the sealer publishes nothing over the
    newest line, so the verifier still holds the chain against it."""
    events = record(3)
    seal.delay()
    sql("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[1].pk, events[2].pk])
    record(3)
    age(checkpoint_file, 3600)

    seal.delay()

    assert [line["seq"] for line in lines(checkpoint_file)] == [3]
    assert "no longer holds the checkpoint at seq 3" in caplog.text
    result = audit_chain_verify()
    assert result.damage == "edited" and result.seq == 3 and "the checkpoint file" in result.detail


def test_the_periodic_checkpoint_is_refused_over_the_same_damage(checkpoint_file):
    from apps.audit.verify import CheckpointRefused, audit_checkpoint_write

    events = record(2)
    audit_checkpoint_write()
    sql("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    record(2)
    with pytest.raises(CheckpointRefused):
        audit_checkpoint_write()
    assert [line["seq"] for line in lines(checkpoint_file)] == [2]
