"""rows_insert: several new rows in one statement on PostgreSQL, save() on the embedded SQLite.

The rows are the tool pipeline's (a usage row and an audit event), the models it exists for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_build
from apps.core.database import rows_insert
from apps.mcp_tools.models import ToolCall

pytestmark = pytest.mark.django_db

EMBEDDED = "embedded_rows_insert"


def _usage(user, **fields) -> ToolCall:
    values = {"tool_name": "todo_overview", "transport": "rest", "success": True, "duration_ms": 1.5}
    return ToolCall(user=user, **{"invocation_id": uuid.uuid4().hex, **values, **fields})


def _event(user, **fields) -> AuditEvent:
    data = {"tool": "todo_overview", "argument_keys": ["due", "status"], "nested": {"n": 1, "ok": True}}
    return audit_event_build(action="tool.invoked", actor=user, target_id="todo_overview", data=data, **fields)


on_postgresql = pytest.mark.postgres  # the one-statement path is PostgreSQL's


@on_postgresql
def test_both_rows_go_in_one_statement(alice):
    before = timezone.now()
    usage, event = _usage(alice), _event(alice)

    with CaptureQueriesContext(connection) as queries:
        rows_insert(usage, event)

    assert len(queries) == 1 and queries[0]["sql"].startswith("WITH r0 AS (INSERT INTO")
    assert usage.pk is not None and event.pk is not None
    assert not usage._state.adding and not event._state.adding
    stored = ToolCall.objects.get(pk=usage.pk)
    assert (stored.invocation_id, stored.user_id, stored.duration_ms) == (usage.invocation_id, alice.pk, 1.5)
    # auto_now_add ran in the compiler, on the instance as in save().
    assert before <= stored.created_at <= timezone.now() and stored.created_at == usage.created_at
    audited = AuditEvent.objects.get(pk=event.pk)
    assert audited.data == {"tool": "todo_overview", "argument_keys": ["due", "status"], "nested": {"n": 1, "ok": True}}
    assert (audited.action, audited.actor_id, audited.actor_label) == ("tool.invoked", alice.pk, "alice")
    assert audited.created_at == event.created_at and audited.seq is None


@on_postgresql
def test_a_row_that_fails_writes_neither(alice):
    taken = _usage(alice)
    rows_insert(taken)
    event = _event(alice, error_code="first")

    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(event, _usage(alice, invocation_id=taken.invocation_id))

    assert not AuditEvent.objects.filter(error_code="first").exists()
    assert ToolCall.objects.count() == 1


@on_postgresql
def test_inside_a_transaction_the_rows_roll_back_with_it(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        rows_insert(_usage(alice), _event(alice))
        raise RuntimeError("the operation they record failed")

    assert not ToolCall.objects.exists() and not AuditEvent.objects.filter(action="tool.invoked").exists()


def _receiver(sender, **kwargs) -> None:
    pass


@pytest.mark.parametrize("signal", [pre_save, post_save], ids=["pre_save", "post_save"])
def test_a_model_with_save_receivers_is_refused(alice, signal):
    signal.connect(_receiver, sender=ToolCall, dispatch_uid="test.rows_insert")
    try:
        with pytest.raises(TypeError, match="receivers"):
            rows_insert(_event(alice), _usage(alice))
    finally:
        signal.disconnect(sender=ToolCall, dispatch_uid="test.rows_insert")
    assert not ToolCall.objects.exists() and not AuditEvent.objects.filter(action="tool.invoked").exists()


def test_a_model_whose_save_does_more_is_refused(db):
    from apps.accounts.models import User

    # User.save bumps the credential epoch on a deactivation (and User has post_save receivers).
    with pytest.raises(TypeError, match=r"overrides save\(\)"):
        rows_insert(User(username="mallory"))
    assert not User.objects.filter(username="mallory").exists()


def test_only_new_rows_are_inserted(alice):
    event = _event(alice)
    event.save(force_insert=True)
    preset = _usage(alice)
    preset.pk = 10**9

    # AuditEvent.save's own rule (never a second save) holds without it: an instance with a key is refused.
    for instance in (event, preset):
        with pytest.raises(TypeError, match="not a new row"):
            rows_insert(instance)
    assert AuditEvent.objects.filter(action="tool.invoked").count() == 1 and not ToolCall.objects.exists()


@pytest.fixture
def embedded_database(db) -> Iterator[str]:
    """An in-memory SQLite database (the embedded default's engine) under an alias of its own, with the
    two tables. Made here, not in settings, so the suite does not build and migrate it for every run."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings_dict = connections.configure_settings(
        {"default": {}, EMBEDDED: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )[EMBEDDED]
    connections[EMBEDDED] = DatabaseWrapper(settings_dict, alias=EMBEDDED)
    try:
        with connections[EMBEDDED].schema_editor() as editor:
            # Only what the usage row's foreign keys point at.
            editor.execute('CREATE TABLE "accounts_user" ("id" integer NOT NULL PRIMARY KEY)')
            editor.create_model(ToolCall)
            editor.create_model(AuditEvent)
        yield EMBEDDED
    finally:
        connections[EMBEDDED].close()
        del connections[EMBEDDED]


def test_other_databases_save_each_row_in_one_transaction(embedded_database):
    assert connections[embedded_database].vendor == "sqlite"
    before = timezone.now() - dt.timedelta(seconds=1)
    usage, event = _usage(None), _event(None)

    with CaptureQueriesContext(connections[embedded_database]) as queries:
        rows_insert(usage, event, using=embedded_database)

    assert [query["sql"].split()[0] for query in queries] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]
    stored = ToolCall.objects.using(embedded_database).get(pk=usage.pk)
    assert stored.invocation_id == usage.invocation_id and stored.created_at >= before
    assert AuditEvent.objects.using(embedded_database).get(pk=event.pk).data == event.data
    assert not ToolCall.objects.exists()  # the default database was not touched

    taken = _usage(None, invocation_id=usage.invocation_id)
    with pytest.raises(IntegrityError):
        rows_insert(_event(None, error_code="second"), taken, using=embedded_database)
    assert not AuditEvent.objects.using(embedded_database).filter(error_code="second").exists()


@on_postgresql
def test_later_rows_reuse_the_compiled_statement_and_store_the_same_values(alice, monkeypatch):
    from django.db.models.sql.compiler import SQLInsertCompiler

    rows_insert(_usage(alice), _event(alice))  # the first row of each model compiles its INSERT
    compiled = []
    original = SQLInsertCompiler.as_sql
    monkeypatch.setattr(
        SQLInsertCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or original(self, *a, **k)
    )
    before = timezone.now()
    usage, event = _usage(alice, error_code="", cached=True), _event(alice, error_code="x" * 80)

    rows_insert(usage, event)

    assert compiled == []
    stored = ToolCall.objects.get(pk=usage.pk)
    assert (stored.invocation_id, stored.cached, stored.duration_ms) == (usage.invocation_id, True, 1.5)
    assert before <= stored.created_at == usage.created_at
    audited = AuditEvent.objects.get(pk=event.pk)
    assert audited.data == {"tool": "todo_overview", "argument_keys": ["due", "status"], "nested": {"n": 1, "ok": True}}
    assert audited.error_code == event.error_code and audited.created_at == event.created_at


@on_postgresql
def test_a_row_with_an_expression_value_is_compiled_afresh(alice):
    from django.db.models import Value

    rows_insert(_usage(alice))
    usage = _usage(alice, duration_ms=Value(2.5))

    rows_insert(usage)

    assert ToolCall.objects.get(invocation_id=usage.invocation_id).duration_ms == 2.5
    plain = _usage(alice)  # and the plain rows after it still take the compiled text
    rows_insert(plain)
    assert ToolCall.objects.get(pk=plain.pk).duration_ms == 1.5
