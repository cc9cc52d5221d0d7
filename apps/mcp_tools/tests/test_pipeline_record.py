"""What a tool call costs the database to record: one statement, and a transaction only for writes.

A read-only tool (or a cached hit) runs in autocommit: no BEGIN, COMMIT or savepoint round trips.
A write tool's changes, usage row and audit event still commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.principal import principal_for_user
from apps.audit.models import AuditEvent
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.pipeline import invoke as pipeline
from apps.mcp_tools.pipeline.invoke import tool_invoke
from apps.todos.models import Todo

on_postgresql = pytest.mark.postgres  # the one-statement record is PostgreSQL's


def _statements(call: Callable[[], Any]) -> list[tuple[str, bool]]:
    """Each statement the call sent, with whether psycopg was in autocommit then (else it sends BEGIN first)."""
    seen: list[tuple[str, bool]] = []

    def wrapper(execute, sql, params, many, context):
        seen.append((sql, connection.connection.autocommit))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        call()
    return seen


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache", [False, True], ids=["computed", "cached"])
def test_a_read_only_call_holds_no_transaction_and_records_in_one_statement(alice, settings, cache):
    settings.MCP_RESULT_CACHE = cache
    principal = principal_for_user(alice)
    tool_invoke(principal=principal, tool_name="todo_overview", arguments={}, transport="rest")
    outcomes = []

    with CaptureQueriesContext(connection) as queries:
        statements = _statements(
            lambda: outcomes.append(
                tool_invoke(principal=principal, tool_name="todo_overview", arguments={}, transport="rest")
            )
        )

    [outcome] = outcomes
    assert outcome.success and outcome.cached is cache
    assert statements and all(autocommit for _sql, autocommit in statements)
    # Django logs COMMIT, ROLLBACK and savepoints here too: there are none.
    logged = [query["sql"].split()[0] for query in queries]
    assert not {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"} & set(logged)
    writes = [sql for sql, _autocommit in statements if "INSERT" in sql]
    assert len(writes) == 1 and writes[0].startswith("WITH")
    # The cached call reads nothing at all; the computed one only what the tool reads.
    assert len(statements) == (1 if cache else 2)
    assert ToolCall.objects.filter(invocation_id=outcome.invocation_id, cached=cache).exists()
    assert AuditEvent.objects.filter(data__invocation_id=outcome.invocation_id, action="tool.invoked").exists()


@on_postgresql  # elsewhere the record is a transaction of its own, so a savepoint here
def test_inside_a_test_transaction_a_read_opens_no_savepoint_and_a_write_does(alice, settings):
    settings.MCP_RESULT_CACHE = False
    principal = principal_for_user(alice)

    with CaptureQueriesContext(connection) as read:
        tool_invoke(principal=principal, tool_name="search_todos", arguments={"query": "x"}, transport="rest")
    with CaptureQueriesContext(connection) as write:
        tool_invoke(
            principal=principal, tool_name="create_todos", arguments={"items": [{"title": "x"}]}, transport="rest"
        )

    assert not [query for query in read if query["sql"].startswith("SAVEPOINT")]
    assert [query for query in write if query["sql"].startswith("SAVEPOINT")]


@pytest.mark.django_db(transaction=True)
def test_a_write_whose_record_fails_leaves_no_change(alice, monkeypatch):
    """The record is one statement; when it fails (here: the usage row's invocation_id is taken), the
    todo the tool created rolls back with it, and so does its todo event."""
    taken = UUID(int=1)
    ToolCall.objects.create(
        user=alice, tool_name="create_todos", transport="rest", success=True, duration_ms=1, invocation_id=taken.hex
    )
    monkeypatch.setattr(pipeline, "uuid", SimpleNamespace(uuid4=lambda: taken))

    with pytest.raises(IntegrityError):
        tool_invoke(
            principal=principal_for_user(alice),
            tool_name="create_todos",
            arguments={"items": [{"title": "never stored"}]},
            transport="rest",
        )

    assert not Todo.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["todo.created", "tool.invoked"]).exists()
    assert ToolCall.objects.count() == 1
