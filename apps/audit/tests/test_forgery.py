"""Events the application did not write are never sealed: each event carries the application's MAC,
the sealer sets aside any whose MAC fails (with the damage alert), and audit_verify names them forged."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from apps.audit.chain import CONTENT_FIELDS, audit_chain_seal
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.audit.tests.conftest import insert_copy, sql, verify_fails_with
from apps.audit.verify import audit_chain_verify

pytestmark = pytest.mark.django_db


def test_a_row_inserted_directly_is_set_aside_alerted_and_named_forged(
    alice, olivia, audrey, mailoutbox, django_capture_on_commit_callbacks
):
    genuine = audit_event_record(action="auth.login", actor=alice, target_type="user", target_id=alice.pk)
    # The genuine event's MAC copied onto a sign-in that failed, and one with a MAC made up.
    rewritten = insert_copy(genuine.pk, outcome="failure", error_code="invalid_credentials")
    invented = insert_copy(genuine.pk, mac="0" * 64, action="auth.logout")

    with django_capture_on_commit_callbacks(execute=True):  # the alert goes once the set-aside commits
        assert audit_chain_seal() == 3

    rows = {row.pk: row for row in AuditEvent.objects.all()}
    assert rows[genuine.pk].seq == 1 and not rows[genuine.pk].forged
    for pk in (rewritten, invented):
        assert rows[pk].seq is None and rows[pk].hash is None and rows[pk].forged
    (mail,) = mailoutbox
    assert sorted(mail.to) == ["audrey@example.test", "olivia@example.test"]
    assert "forged" in mail.body and str(rewritten) in mail.body and str(invented) in mail.body
    with django_capture_on_commit_callbacks(execute=True):
        assert audit_chain_seal() == 0  # set aside once, not examined (nor alerted) again
    assert len(mailoutbox) == 1

    message = verify_fails_with("forged")
    assert f"event id={rewritten}:" in message and "MAC does not verify" in message


@pytest.mark.services
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_with_the_trigger_on_a_forged_insert_is_never_sealed(alice):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_event_guard'")
        assert cursor.fetchone() == ("O",)  # enabled: the forger needs nothing but INSERT
    genuine = audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=1)
    forged = insert_copy(genuine.pk, target_id="2", mac="", mac_key_version="")

    audit_chain_seal()

    assert AuditEvent.objects.get(pk=forged).forged and AuditEvent.objects.get(pk=forged).seq is None
    result = audit_chain_verify()
    assert (result.damage, result.event_id) == ("forged", forged)


def test_a_sealed_row_with_its_chain_columns_nulled_and_its_content_rewritten_is_caught(alice):
    events = [audit_event_record(action="todo.created", actor=alice, target_id=i) for i in range(3)]
    audit_chain_seal()
    newest = events[-1].pk
    sql(
        "UPDATE audit_auditevent SET seq = NULL, prev_hash = NULL, hash = NULL, key_version = '', "
        "action = 'todo.deleted' WHERE id = %s",
        [newest],
    )

    audit_chain_seal()

    event = AuditEvent.objects.get(pk=newest)
    assert event.forged and event.seq is None
    assert f"event id={newest}:" in verify_fails_with("forged")


def test_an_event_marked_forged_whose_mac_holds_is_named_as_edited(alice):
    event = audit_event_record(action="todo.created", actor=alice)
    sql("UPDATE audit_auditevent SET forged = %s WHERE id = %s", [True, event.pk])
    result = audit_chain_verify()
    assert (result.damage, result.event_id) == ("edited", event.pk)


def test_a_mac_changed_after_sealing_is_caught(alice):
    event = audit_event_record(action="todo.created", actor=alice)
    audit_chain_seal()
    sql("UPDATE audit_auditevent SET mac = %s WHERE id = %s", ["f" * 64, event.pk])
    assert "MAC was changed" in verify_fails_with("edited")


def test_every_value_survives_the_round_trip_so_genuine_events_are_sealed(alice, settings):
    """The MAC is computed before the INSERT and checked on what the database gives back: floats
    jsonb prints as integers, key order jsonb changes, a cost with more places than the column,
    an integer duration, text beyond ASCII."""
    data = {
        "zeta": 1e16,
        "alpha": [2.0, 0.1, -0.0, 1e300, 5e-324, 1.5e-7],
        "nested": {"b": {"y": True, "x": None}, "a": "Grüße, 東京 \u2028"},
        "": 12345678901234567890,
    }
    event = audit_event_record(
        action="tool.invoked",
        actor=alice,
        data=data,
        cost=0.000021600000000000001,
        duration_ms=5,
        tokens=7,
        target_id="ü" * 80,
    )
    settings.AUDIT_CHAIN_KEYRING = [("v2", "r" * 40), *settings.AUDIT_CHAIN_KEYRING]  # rotated before sealing
    audit_chain_seal()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.cost == Decimal("0.00002160") and stored.mac_key_version == "v1"
    assert not stored.forged and stored.seq == 1
    assert audit_chain_verify().intact


def test_every_writer_sets_the_mac(alice, olivia):
    """The record service, the tool pipeline's one-statement insert (rows_insert on PostgreSQL),
    a management command and an admin change: all sealed, none set aside."""
    from apps.accounts.principal import principal_for_user
    from apps.mcp_tools.pipeline.invoke import tool_invoke

    principal = principal_for_user(alice)
    milk = {"items": [{"title": "Milk"}]}
    tool_invoke(principal=principal, tool_name="create_todos", arguments=milk, transport="rest")
    tool_invoke(principal=principal, tool_name="list_todos", arguments={}, transport="mcp")
    call_command("audit_checkpoint")
    from apps.audit.services import audit_admin_change_record

    audit_admin_change_record(actor=olivia, change="changed", obj=alice, change_message=[])
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tool.invoked", "todo.created", "command.audit_checkpoint", "admin.changed"} <= actions

    audit_chain_seal()

    assert not AuditEvent.objects.filter(forged=True).exists()
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert audit_chain_verify().intact


def test_recording_an_event_is_still_one_query(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        audit_event_record(action="todo.created", actor=alice, data={"n": 1})


def test_the_mac_covers_every_column_an_editor_could_change(alice, settings):
    """Every column but the id and the chain's own is in the MAC: changing any one breaks it."""
    from apps.audit.event_mac import event_mac_valid
    from apps.audit.services import audit_event_build

    not_content = {"id", "seq", "prev_hash", "hash", "key_version", "forged", "mac", "mac_key_version"}
    content = [f for f in AuditEvent._meta.concrete_fields if f.name not in not_content]
    assert {f.attname for f in content} == set(CONTENT_FIELDS)  # the chain's list is the same
    changed = {"DateTimeField": lambda v: v.replace(year=2001), "JSONField": lambda v: {**v, "extra": 1},
               "DecimalField": lambda v: Decimal("1.5"), "FloatField": lambda v: 2.5}  # fmt: skip
    keys = dict(settings.AUDIT_CHAIN_KEYRING)
    for field in content:
        event = audit_event_build(action="tool.invoked", actor=alice, subject=None, data={"n": 1}, cost=1, tokens=3)
        assert event_mac_valid(event, keys)
        old = getattr(event, field.attname)
        kind = field.get_internal_type()
        if kind in changed:
            new = changed[kind](old)
        elif kind in {"ForeignKey", "BigIntegerField", "PositiveIntegerField"}:
            new = (old or 0) + 1
        else:
            new = f"{old}x"
        setattr(event, field.attname, new)
        assert not event_mac_valid(event, keys), field.name
