"""The keyed chain: sealing without a writer lock, and every kind of damage named by audit_verify."""

import hashlib
import json
import threading

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from apps.audit.chain import GENESIS_HASH, audit_chain_seal, event_payload
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.audit.tests.conftest import sql, verify_fails_with
from apps.audit.verify import audit_chain_verify, audit_checkpoint_write

pytestmark = pytest.mark.django_db


def record(n: int, actor=None) -> list[AuditEvent]:
    events = [
        audit_event_record(action="todo.created", actor=actor, target_type="todo", target_id=i, data={"n": i})
        for i in range(n)
    ]
    audit_chain_seal()
    return [AuditEvent.objects.get(pk=event.pk) for event in events]


def test_events_are_inserted_unsealed_and_the_sealer_links_them_in_order(alice):
    first = audit_event_record(action="todo.created", actor=alice)
    assert first.seq is None and first.hash is None

    events = record(3, alice)

    first.refresh_from_db()
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert [e.seq for e in events] == [2, 3, 4]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert audit_chain_verify().intact and audit_chain_verify().checked == 4


@pytest.mark.postgres  # needs two writers at once
def test_an_event_committed_after_a_later_one_was_sealed_is_sealed_next(alice, transactional_db):
    """Ids are taken at INSERT, rows become visible at COMMIT: a lower id committing late is sealed
    in the next batch with the next seq, and the chain still verifies."""
    inserted, release = threading.Event(), threading.Event()
    early_id: list[int] = []

    def slow_writer():
        try:
            with transaction.atomic():
                early_id.append(audit_event_record(action="todo.created", actor=None).pk)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(10)
    late = audit_event_record(action="todo.updated", actor=None)
    assert audit_chain_seal() == 1
    release.set()
    writer.join()
    assert audit_chain_seal() == 1

    early = AuditEvent.objects.get(pk=early_id[0])
    late.refresh_from_db()
    assert early.pk < late.pk and early.seq == late.seq + 1 and early.prev_hash == late.hash
    assert audit_chain_verify().intact


def test_the_orm_refuses_to_change_or_delete_events(alice):
    (event,) = record(1, alice)
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failure")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.postgres  # the trigger is PostgreSQL's
def test_the_database_refuses_update_and_delete_without_the_retention_flag(alice):
    (event,) = record(1, alice)
    for statement in (
        "UPDATE audit_auditevent SET outcome = 'failure' WHERE id = %s",
        "UPDATE audit_auditevent SET hash = md5('x') WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(ProgrammingError) as refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
        assert "append-only" in str(refused.value)
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_an_intact_chain_verifies_and_the_command_says_so(alice, capsys):
    record(5, alice)
    audit_checkpoint_write()
    call_command("audit_verify")
    assert "intact: 5 events verified" in capsys.readouterr().out


def test_an_edited_event_is_caught(alice):
    events = record(5, alice)
    sql("UPDATE audit_auditevent SET outcome = 'failure' WHERE id = %s", [events[2].pk])
    message = verify_fails_with("edited")
    assert f"id={events[2].pk} seq={events[2].seq}" in message


def test_an_edit_to_nested_metadata_is_caught(alice):
    events = record(3, alice)
    sql("""UPDATE audit_auditevent SET data = '{"n": 99}' WHERE id = %s""", [events[1].pk])
    verify_fails_with("edited")


def test_a_deleted_event_in_the_middle_is_caught_as_missing(alice):
    events = record(5, alice)
    sql("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    message = verify_fails_with("missing")
    assert f"id={events[3].pk}" in message


def test_a_deleted_newest_event_is_caught_against_the_checkpoint(alice):
    events = record(5, alice)
    audit_checkpoint_write()
    sql("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    message = verify_fails_with("truncated")
    assert "reached seq 5" in message


def test_an_emptied_table_is_caught_against_the_checkpoint_file(alice):
    record(5, alice)
    audit_checkpoint_write()
    sql("DELETE FROM audit_auditevent")
    sql("DELETE FROM audit_auditcheckpoint")  # the database copy goes too; the file outside stays
    verify_fails_with("truncated")


def test_a_reordering_is_caught(alice):
    events = record(5, alice)
    a, b = events[1], events[3]
    sql("UPDATE audit_auditevent SET seq = -seq WHERE id IN (%s, %s)", [a.pk, b.pk])
    sql("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    sql("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
    verify_fails_with("reordered")


def test_a_full_rewrite_with_recomputed_plain_hashes_is_caught_as_wrong_key(alice):
    events = record(4, alice)
    prev = GENESIS_HASH
    for event in events:
        event.outcome = "failure"  # the rewrite's purpose
        digest = hashlib.sha256(prev.encode() + b"\n" + event_payload(event)).hexdigest()
        sql(
            "UPDATE audit_auditevent SET outcome = 'failure', prev_hash = %s, hash = %s WHERE id = %s",
            [prev, digest, event.pk],
        )
        prev = digest
    message = verify_fails_with("wrong_key")
    assert f"id={events[0].pk}" in message


def test_a_chain_sealed_under_a_key_we_do_not_hold_is_wrong_key(alice, settings):
    record(2, alice)
    settings.AUDIT_CHAIN_KEYRING = [("v9", "n" * 40)]
    verify_fails_with("wrong_key")


def test_a_rotated_key_still_verifies_events_sealed_under_the_old_one(alice, settings):
    old = settings.AUDIT_CHAIN_KEYRING
    record(2, alice)
    settings.AUDIT_CHAIN_KEYRING = [("v2", "r" * 40), *old]
    newer = record(2, alice)
    assert newer[0].key_version == "v2"
    assert audit_chain_verify().intact


def test_a_forged_checkpoint_line_is_refused(alice, checkpoint_file):
    record(2, alice)
    forged = {"kind": "head", "seq": 1, "hash": "f" * 64, "key_version": "v1", "created_at": "x", "signature": "0" * 64}
    checkpoint_file.write_text(json.dumps(forged) + "\n")
    verify_fails_with("wrong_key")


def test_concurrent_sealers_never_give_two_events_one_place(alice, transactional_db):
    for i in range(200):
        audit_event_record(action="todo.created", actor=None, target_id=i)
    errors: list[BaseException] = []

    def seal():
        try:
            audit_chain_seal(batch_size=25)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=seal) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit_chain_seal()
    assert errors == []
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 201))
    assert audit_chain_verify().intact
