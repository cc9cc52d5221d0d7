import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import audit_chain_verify, audit_event_record

pytestmark = pytest.mark.django_db


def record_three(actor):
    return [
        audit_event_record(action="todo.created", actor=actor, target_type="todo", target_id=n, data={"n": n})
        for n in range(3)
    ]


def test_events_chain_each_to_the_previous_one(alice):
    first, second, third = record_three(alice)
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert first.actor_label == "alice"
    assert audit_chain_verify() == []


def test_the_verifier_finds_an_edited_row(alice):
    _, second, _third = record_three(alice)
    AuditEvent.objects.filter(pk=second.pk).update(outcome="failure")
    assert audit_chain_verify() == [second.pk]


def test_the_verifier_finds_a_deleted_row(alice):
    _, second, third = record_three(alice)
    AuditEvent.objects.filter(pk=second.pk).delete()
    assert audit_chain_verify() == [third.pk]


def test_secrets_are_masked_before_they_are_stored(alice):
    event = audit_event_record(
        action="provider_key.created",
        actor=alice,
        data={
            "api_key": "anything at all",
            "note": "pasted sk-proj-AbCdEfGhIjKlMnOpQrStUv by mistake",
            "nested": [{"password": "hunter2"}, "gw_pat_0123456789ab_secretsecret"],
            "label": "work",
        },
    )
    stored = AuditEvent.objects.get(pk=event.pk).data
    assert stored["api_key"] == "[masked]"
    assert "AbCdEfGhIjKlMnOp" not in stored["note"]
    assert stored["nested"] == [{"password": "[masked]"}, "[masked]"]
    assert stored["label"] == "work"
    assert audit_chain_verify() == []


def test_the_admin_shows_events_read_only(olivia, client):
    audit_event_record(action="todo.created", actor=olivia)
    client.force_login(olivia)
    event = AuditEvent.objects.get()
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "x"}).status_code == 403
