"""Retention deletes expired events as a prefix of the chain, and what remains still verifies."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.chain import audit_chain_seal
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.retention import audit_retention_run
from apps.audit.services import audit_event_record
from apps.audit.verify import audit_chain_verify, audit_checkpoint_write

pytestmark = pytest.mark.django_db


def tool_events(n: int) -> None:
    for i in range(n):
        audit_event_record(action="tool.invoked", actor=None, category="tool", target_id=i)


def test_expired_events_go_in_batches_and_the_rest_still_verifies(settings):
    tool_events(5)
    audit_event_record(action="provider_key.created", actor=None)  # category key: kept 730 days
    tool_events(2)
    audit_checkpoint_write()
    in_100_days = timezone.now() + dt.timedelta(days=100)

    assert audit_retention_run(now=in_100_days, batch_size=2) == 5

    assert list(AuditEvent.objects.order_by("seq").values_list("category", flat=True)) == ["key", "tool", "tool"]
    checkpoint = AuditCheckpoint.objects.filter(kind="retention").order_by("-seq").first()
    assert checkpoint.seq == 5
    result = audit_chain_verify()
    assert result.intact and result.checked == 3
    call_command("audit_verify", verbosity=0)


def test_after_everything_expired_new_events_continue_the_chain(settings):
    tool_events(3)
    assert audit_retention_run(now=timezone.now() + dt.timedelta(days=91)) == 3
    assert not AuditEvent.objects.exists()

    tool_events(2)
    audit_chain_seal()
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [4, 5]
    assert audit_chain_verify().intact


def test_nothing_expired_deletes_nothing_and_writes_no_checkpoint():
    tool_events(3)
    assert audit_retention_run() == 0
    assert AuditEvent.objects.count() == 3
    assert not AuditCheckpoint.objects.filter(kind="retention").exists()


def test_a_deleted_retention_checkpoint_is_caught():
    from apps.audit.tests.conftest import sql

    tool_events(4)
    audit_retention_run(now=timezone.now() + dt.timedelta(days=91), batch_size=2)
    tool_events(1)
    audit_chain_seal()
    sql("DELETE FROM audit_auditcheckpoint WHERE kind = 'retention'")
    result = audit_chain_verify()
    assert result.damage == "missing" and result.seq == 5
