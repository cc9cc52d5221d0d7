import contextlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apps.audit.models import AuditEvent

CHAIN_COLUMNS = {"id", "seq", "prev_hash", "hash"}  # the rest copied from an unsealed row


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    """Each test its own checkpoint file outside the database, as production has its own."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.jsonl"
    return settings.AUDIT_CHECKPOINT_FILE


@contextlib.contextmanager
def trigger_bypassed():
    """Someone with the table owner's rights: the append-only trigger switched off for a moment."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_guard")
        yield connection
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_guard")


def sql(statement: str, params: list | None = None) -> None:
    """Raw SQL as an attacker with database access would run it (the ORM refuses)."""
    with trigger_bypassed(), connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def verify_fails_with(damage: str) -> str:
    """`manage.py audit_verify` exits naming this damage; its message."""
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    message = str(failure.value)
    assert f"damaged: {damage}" in message
    return message


def insert_copy(event_pk: int, **overrides) -> int:
    """INSERT, with the table's INSERT right only (the ORM and the trigger left as they are), a row
    copied from an existing one, some columns changed (chain columns only when given): what a forger
    with database access writes."""
    columns = [
        f.column for f in AuditEvent._meta.concrete_fields if f.column not in CHAIN_COLUMNS or f.column in overrides
    ]
    selected = ", ".join("%s" if column in overrides else column for column in columns)
    params = [overrides[column] for column in columns if column in overrides]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO audit_auditevent ({', '.join(columns)}) "  # noqa: S608 - our table and columns
            f"SELECT {selected} FROM audit_auditevent WHERE id = %s",
            [*params, event_pk],
        )
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
