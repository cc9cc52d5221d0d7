"""The test suite's PostgreSQL flush (config/test_postgresql): after a transactional test every table is
empty, the audit trail's own trigger included, and the trigger is on again afterwards."""

from __future__ import annotations

import pytest
from django.core.management.color import no_style
from django.db import ProgrammingError, connection, transaction

from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.todos.models import Todo

pytestmark = pytest.mark.postgres


@pytest.mark.django_db(transaction=True)
def test_the_flush_empties_the_tables_holding_rows_and_leaves_the_audit_trigger_on(alice):
    Todo.objects.create(owner=alice, title="a row to remove")
    audit_event_record(action="test.flush", actor=alice, subject=alice, category="admin")
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)

    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=False)

    deleted = {statement.rsplit(" ", 1)[1].strip('"') for statement in statements[1:]}
    assert statements[0] == "SET LOCAL session_replication_role = replica"
    assert {"todos_todo", "audit_auditevent", "accounts_user"} <= deleted
    assert deleted < set(tables)  # the empty ones are left as they are
    connection.ops.execute_sql_flush(statements)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            assert cursor.fetchone()[0] == 0, table

    event = audit_event_record(action="test.after", actor=None, category="admin")
    with pytest.raises(ProgrammingError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert "append-only" in str(refused.value)
    assert AuditEvent.objects.filter(pk=event.pk).exists()
