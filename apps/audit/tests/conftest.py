import contextlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction


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
