import pytest

from apps.audit.chain import audit_chain_seal
from apps.audit.masking import mask_text
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.audit.verify import audit_chain_verify

pytestmark = pytest.mark.django_db


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
    audit_chain_seal()
    assert audit_chain_verify().intact


def test_the_admin_shows_events_read_only(olivia, client):
    event = audit_event_record(action="todo.created", actor=olivia)
    client.force_login(olivia)
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
    audit_chain_seal()
    assert audit_chain_verify().intact


def test_emails_keys_and_tokens_are_masked_in_nested_metadata_and_every_column(alice):
    key, email = "sk-ant-" + "K" * 40, "carol.secret@example.org"
    from apps.core.request_context import request_context

    with request_context(user_agent=f"curl {key} {email}", client_address="203.0.113.9"):
        event = audit_event_record(
            action="todo.created",
            actor=alice,
            error_code=f"e {email}",
            target_type=f"todo {email}",
            target_id=email,
            data={"deep": [{"who": email, "key": key}, {email: "x"}], "note": f"token gw_pat_{'A' * 30}"},
        )

    stored = AuditEvent.objects.get(pk=event.pk)
    texts = [str(getattr(stored, field.attname)) for field in AuditEvent._meta.concrete_fields]
    assert not any("K" * 8 in text or "carol.secret" in text or "A" * 10 in text for text in texts)
    assert stored.data["deep"][0]["who"] == "c***@example.org"
    assert stored.client_address == "203.0.113.9"
