"""Every tool through the REST door, on the caller's own data only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.services import user_update_profile
from apps.mcp_tools.pipeline.registry import tools_registered
from apps.mcp_tools.tests.pipeline_helpers import invoke, result_of
from apps.todos.models import Todo
from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db


def test_every_registered_tool_is_covered_here():
    covered = {
        "create_todos",
        "list_todos",
        "get_todo",
        "update_todo",
        "complete_todos",
        "reopen_todo",
        "delete_todos",
        "set_priority",
        "set_due_date",
        "search_todos",
        "todo_overview",
        "current_time",
        "whoami",
        # AI tools: apps/mcp_tools/tests/test_ai_tools.py
        "ai_complete",
        "ai_summarize_todos",
        "ai_plan_day",
        "ai_extract_todos",
    }
    assert {spec.name for spec in tools_registered()} == covered


def test_create_todos_creates_a_batch_for_the_caller(alice, alice_client):
    result = result_of(
        alice_client,
        "create_todos",
        {
            "items": [
                {"title": "Buy milk", "priority": "high", "tags": ["Shopping"]},
                {"title": "File taxes", "description": "before the deadline", "due": "2026-12-01T09:00:00+00:00"},
            ]
        },
    )
    assert result["count"] == 2
    assert [todo["title"] for todo in result["created"]] == ["Buy milk", "File taxes"]
    assert result["created"][0]["tags"] == ["shopping"]
    assert result["created"][1]["due_at"] == "2026-12-01T09:00:00+00:00"
    assert Todo.objects.filter(owner=alice).count() == 2


def test_create_todos_is_all_or_nothing(alice, alice_client):
    response = invoke(alice_client, "create_todos", {"items": [{"title": "ok"}, {"title": "bad", "due": "whenever"}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_date"
    assert not Todo.objects.filter(owner=alice).exists()


def test_create_todos_refuses_more_than_fifty(alice_client):
    response = invoke(alice_client, "create_todos", {"items": [{"title": f"t{i}"} for i in range(51)]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_create_todos_reads_natural_dates_in_the_users_zone(alice, alice_client):
    user_update_profile(user=alice, timezone_name="Asia/Tokyo")
    result = result_of(alice_client, "create_todos", {"items": [{"title": "call mum", "due": "tomorrow 5pm"}]})
    due = dt.datetime.fromisoformat(result["created"][0]["due_at"])
    assert due.utcoffset() == dt.timedelta(hours=9)
    assert (due.hour, due.minute) == (17, 0)
    tokyo_today = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    assert due.date() == tokyo_today + dt.timedelta(days=1)


def test_list_todos_filters_and_paginates(alice, alice_client):
    now = timezone.now()
    todo_create(owner=alice, title="late", priority="urgent", due_at=now - dt.timedelta(days=1), tags=["work"])
    todo_create(owner=alice, title="soon", priority="low", due_at=now + dt.timedelta(days=2))
    done = todo_create(owner=alice, title="done")
    Todo.objects.filter(pk=done.pk).update(completed_at=now)
    for index in range(3):
        todo_create(owner=alice, title=f"filler {index}")

    open_page = result_of(alice_client, "list_todos", {"limit": 2})
    assert open_page["total"] == 5
    assert len(open_page["todos"]) == 2
    assert open_page["next_offset"] == 2
    last_page = result_of(alice_client, "list_todos", {"limit": 2, "offset": 4})
    assert len(last_page["todos"]) == 1
    assert last_page["next_offset"] is None

    assert [t["title"] for t in result_of(alice_client, "list_todos", {"overdue": True})["todos"]] == ["late"]
    assert [t["title"] for t in result_of(alice_client, "list_todos", {"priority": ["low"]})["todos"]] == ["soon"]
    assert [t["title"] for t in result_of(alice_client, "list_todos", {"tag": "work"})["todos"]] == ["late"]
    assert [t["title"] for t in result_of(alice_client, "list_todos", {"status": "completed"})["todos"]] == ["done"]
    assert result_of(alice_client, "list_todos", {"status": "all"})["total"] == 6
    due_soon = result_of(alice_client, "list_todos", {"due_after": "today", "due_before": "in 3 days"})
    assert [t["title"] for t in due_soon["todos"]] == ["soon"]
    by_due = result_of(alice_client, "list_todos", {"ordering": "due", "limit": 2})
    assert [t["title"] for t in by_due["todos"]] == ["late", "soon"]
    assert [t["title"] for t in result_of(alice_client, "list_todos", {"text": "fill 2"})["todos"]] == ["filler 2"]


def test_due_after_a_day_includes_that_whole_day(alice, alice_client):
    start_of_today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    todo_create(owner=alice, title="yesterday", due_at=start_of_today - dt.timedelta(minutes=1))
    todo_create(owner=alice, title="early today", due_at=start_of_today + dt.timedelta(minutes=1))
    found = result_of(alice_client, "list_todos", {"due_after": "today"})
    assert [todo["title"] for todo in found["todos"]] == ["early today"]
    until_yesterday = result_of(alice_client, "list_todos", {"due_before": "yesterday"})
    assert [todo["title"] for todo in until_yesterday["todos"]] == ["yesterday"]


def test_get_todo_returns_one_todo(alice, alice_client):
    todo = todo_create(owner=alice, title="read book")
    assert result_of(alice_client, "get_todo", {"id": todo.pk})["todo"]["title"] == "read book"


def test_update_todo_changes_only_given_fields(alice, alice_client):
    todo = todo_create(owner=alice, title="draft", description="keep me", tags=["a"])
    result = result_of(alice_client, "update_todo", {"id": todo.pk, "title": "final", "tags": ["b", "c"]})
    assert result["todo"]["title"] == "final"
    assert result["todo"]["description"] == "keep me"
    assert result["todo"]["tags"] == ["b", "c"]


def test_update_todo_needs_a_field_to_change(alice, alice_client):
    todo = todo_create(owner=alice, title="draft")
    assert invoke(alice_client, "update_todo", {"id": todo.pk}).status_code == 400


def test_complete_todos_and_reopen_todo(alice, alice_client):
    first = todo_create(owner=alice, title="one")
    second = todo_create(owner=alice, title="two")
    result = result_of(alice_client, "complete_todos", {"ids": [first.pk, second.pk]})
    assert result["count"] == 2
    assert {todo["status"] for todo in result["completed"]} == {"completed"}
    reopened = result_of(alice_client, "reopen_todo", {"id": first.pk})
    assert reopened["todo"]["status"] == "open"
    assert reopened["todo"]["completed_at"] is None


def test_delete_todos_deletes_a_batch(alice, alice_client):
    first = todo_create(owner=alice, title="one")
    second = todo_create(owner=alice, title="two")
    keep = todo_create(owner=alice, title="keep")
    result = result_of(alice_client, "delete_todos", {"ids": [first.pk, second.pk]})
    assert result == {"deleted_ids": [first.pk, second.pk], "count": 2}
    assert list(Todo.objects.filter(owner=alice).values_list("pk", flat=True)) == [keep.pk]


def test_set_priority(alice, alice_client):
    todo = todo_create(owner=alice, title="x")
    assert (
        result_of(alice_client, "set_priority", {"id": todo.pk, "priority": "urgent"})["todo"]["priority"] == "urgent"
    )
    assert invoke(alice_client, "set_priority", {"id": todo.pk, "priority": "extreme"}).status_code == 400


def test_set_due_date_accepts_phrases_iso_and_null(alice, alice_client):
    user_update_profile(user=alice, timezone_name="America/New_York")
    todo = todo_create(owner=alice, title="x")
    result = result_of(alice_client, "set_due_date", {"id": todo.pk, "due": "next friday"})
    due = dt.datetime.fromisoformat(result["interpreted_due_at"])
    assert result["timezone"] == "America/New_York"
    assert due.strftime("%A %H:%M") == "Friday 23:59"
    iso = result_of(alice_client, "set_due_date", {"id": todo.pk, "due": "2027-01-15T08:30"})
    assert iso["todo"]["due_at"].startswith("2027-01-15T08:30:00-05:00")
    cleared = result_of(alice_client, "set_due_date", {"id": todo.pk, "due": None})
    assert cleared["todo"]["due_at"] is None
    assert Todo.objects.get(pk=todo.pk).due_at is None


def test_search_todos_matches_every_word(alice, alice_client):
    todo_create(owner=alice, title="Plan trip to Rome", tags=["travel"])
    todo_create(owner=alice, title="Plan party")
    found = result_of(alice_client, "search_todos", {"query": "plan travel"})
    assert [todo["title"] for todo in found["todos"]] == ["Plan trip to Rome"]


def test_todo_overview_counts(alice, alice_client):
    now = timezone.now()
    todo_create(owner=alice, title="late", priority="urgent", due_at=now - dt.timedelta(hours=2))
    todo_create(owner=alice, title="open")
    result = result_of(alice_client, "todo_overview", {})
    assert result["total"] == 2
    assert result["open"] == 2
    assert result["overdue"] == 1
    assert result["urgent_open"] == 1


def test_current_time_is_in_the_users_zone(alice, alice_client):
    user_update_profile(user=alice, timezone_name="Asia/Kolkata")
    result = result_of(alice_client, "current_time")
    assert result["timezone"] == "Asia/Kolkata"
    assert result["utc_offset"] == "+0530"
    local = dt.datetime.fromisoformat(result["local"])
    assert abs((local - timezone.now()).total_seconds()) < 60


def test_whoami_describes_the_caller(alice, alice_client):
    result = result_of(alice_client, "whoami")
    assert result["user"]["username"] == "alice"
    assert result["roles"] == ["user"]
    assert result["auth_method"] == "jwt"
    assert result["scopes"] == ["ai:invoke", "profile:read", "todos:read", "todos:write"]
    assert result["access_token_id"] is None


# --- bob's tasks are invisible to alice's tools ----------------------------------------------------


@pytest.fixture
def bobs_todo(bob):
    return todo_create(owner=bob, title="bob's secret plan", tags=["private"])


@pytest.mark.parametrize(
    ("tool_name", "parameters"),
    [
        ("get_todo", lambda pk: {"id": pk}),
        ("update_todo", lambda pk: {"id": pk, "title": "hijacked"}),
        ("complete_todos", lambda pk: {"ids": [pk]}),
        ("reopen_todo", lambda pk: {"id": pk}),
        ("delete_todos", lambda pk: {"ids": [pk]}),
        ("set_priority", lambda pk: {"id": pk, "priority": "low"}),
        ("set_due_date", lambda pk: {"id": pk, "due": None}),
    ],
)
def test_alice_cannot_touch_bobs_todo(alice_client, bobs_todo, tool_name, parameters):
    before = Todo.objects.get(pk=bobs_todo.pk)
    response = invoke(alice_client, tool_name, parameters(bobs_todo.pk))
    assert response.status_code == 404
    after = Todo.objects.get(pk=bobs_todo.pk)
    assert (after.title, after.priority, after.completed_at, after.updated_at) == (
        before.title,
        before.priority,
        before.completed_at,
        before.updated_at,
    )


def test_a_batch_with_one_foreign_id_changes_nothing(alice, alice_client, bobs_todo):
    mine = todo_create(owner=alice, title="mine")
    response = invoke(alice_client, "delete_todos", {"ids": [mine.pk, bobs_todo.pk]})
    assert response.status_code == 404
    assert response.json()["error"]["details"]["missing_ids"] == [bobs_todo.pk]
    assert Todo.objects.filter(pk__in=[mine.pk, bobs_todo.pk]).count() == 2


def test_alices_reads_never_show_bobs_todos(alice, alice_client, bobs_todo):
    todo_create(owner=alice, title="alice's plan")
    listed = result_of(alice_client, "list_todos", {"status": "all"})
    assert [todo["title"] for todo in listed["todos"]] == ["alice's plan"]
    assert result_of(alice_client, "search_todos", {"query": "plan"})["total"] == 1
    assert result_of(alice_client, "list_todos", {"tag": "private"})["total"] == 0
    assert result_of(alice_client, "todo_overview", {})["total"] == 1


def test_the_todo_output_schema_describes_exactly_what_the_serializer_returns():
    from apps.mcp_tools.tools.schemas import TODO
    from apps.todos.serializers import TodoSerializer

    assert TODO["required"] == list(TodoSerializer.Meta.fields)
    assert set(TODO["properties"]) == set(TodoSerializer.Meta.fields)
