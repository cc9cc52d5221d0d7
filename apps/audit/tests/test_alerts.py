"""The daily verification job: quiet when the chain holds, mail to operators and auditors when not."""

import pytest

from apps.accounts.tasks import audit_verify
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.audit.tests.conftest import sql

pytestmark = pytest.mark.django_db


def test_an_intact_chain_sends_no_mail_and_records_the_check(alice, olivia, audrey, mailoutbox):
    audit_event_record(action="todo.created", actor=alice)

    assert audit_verify.delay().get() is True
    assert mailoutbox == []
    assert AuditEvent.objects.get(action="audit.verified").outcome == "success"


def test_damage_mails_every_operator_and_auditor_and_no_one_else(alice, olivia, audrey, mailoutbox):
    event = audit_event_record(action="todo.created", actor=alice)
    audit_verify.delay()
    sql("UPDATE audit_auditevent SET action = 'todo.deleted' WHERE id = %s", [event.pk])

    assert audit_verify.delay().get() is False
    (mail,) = mailoutbox
    assert sorted(mail.to) == ["audrey@example.test", "olivia@example.test"]
    assert f"edited at event id={event.pk}" in mail.body
    failed = AuditEvent.objects.filter(action="audit.verified", outcome="failure").get()
    assert failed.error_code == "edited"
