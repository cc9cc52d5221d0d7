import pytest

from apps.audit.masking import mask_text
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


@pytest.mark.parametrize(
    "secret",
    [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJlX2hlcmU",
        "gw_pat_0123456789ab_ZmFrZS1zZWNyZXQtdmFsdWUtaGVyZQ",
        "pbkdf2_sha256$870000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA=",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
        "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "scrypt$16384$salt$8$1$aGFzaA==",
        "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUv",
    ],
)
def test_masking_catches_tokens_keys_and_password_hashes(secret):
    masked = mask_text(f"before {secret} after")

    assert masked == "before [masked] after"


def test_every_text_column_of_an_event_is_masked_not_only_data(alice):
    key = "sk-proj-" + "Q" * 80
    event = audit_event_record(
        action=f"tool.denied {key}",
        actor=alice,
        target_type=f"tool {key}",
        target_id=f"{key}/{'x' * 100}",
        data={"tool": key},
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    for text in (stored.action, stored.target_type, stored.target_id, stored.actor_label, str(stored.data)):
        assert "Q" * 8 not in text
    assert stored.target_id.startswith("[masked]") and len(stored.target_id) == 64
    assert audit_chain_verify() == []
