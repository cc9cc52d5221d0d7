"""Due dates outside the supported range (1900..2999 UTC, offsets within ±14:00) are a 400 at every door.

Each input here was a 500 (or a PostgreSQL error text, or a list that could no longer be read) before.
"""

from __future__ import annotations

import datetime as dt

import pytest

from apps.accounts.principal import principal_for_user
from apps.accounts.services import user_update_profile
from apps.core.errors import InvalidInput
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.tests.pipeline_helpers import invoke
from apps.todos.dates import DUE_RANGE_MESSAGE, due_parse
from apps.todos.models import Todo
from apps.todos.services import todo_create, todo_update

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = [
    "2026-01-01T00:00:00-20:00",  # an offset PostgreSQL cannot parse (beyond ±15:59)
    "2026-01-01T00:00:00+15:00",  # parseable by PostgreSQL, but no real zone is that far out
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+23:59",  # year 0 in UTC
    "0001-01-01T00:00",  # naive: read in the user's zone
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "9999-12-31",  # a day whose exclusive upper bound would be year 10000
]
IN_RANGE_EDGES = ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "2026-06-01T12:00:00+14:00"]


@pytest.fixture
def kiritimati(alice):
    # UTC+14: the zone that turns year 1 into year 0.
    return user_update_profile(user=alice, timezone_name="Pacific/Kiritimati")


@pytest.mark.parametrize("text", OUT_OF_RANGE)
@pytest.mark.parametrize("bound", ["due", "start", "end"])
def test_due_parse_refuses_dates_outside_the_range(text, bound):
    with pytest.raises(InvalidInput) as caught:
        due_parse(text=text, tz_name="Pacific/Kiritimati", bound=bound)
    assert caught.value.code == "invalid_date"
    assert caught.value.message == DUE_RANGE_MESSAGE


@pytest.mark.parametrize("text", IN_RANGE_EDGES)
def test_due_parse_accepts_the_edges_of_the_range(text):
    assert due_parse(text=text, tz_name="UTC") == dt.datetime.fromisoformat(text)


@pytest.mark.parametrize("text", OUT_OF_RANGE[:5])
def test_rest_list_filters_outside_the_range_are_400(kiritimati, alice_client, text):
    for name in ("due_before", "due_after"):
        response = alice_client.get("/api/todos/", {name: text})
        assert response.status_code == 400, (name, text, response.content)
        error = response.json()["error"]
        assert name in error["details"], error


@pytest.mark.parametrize("text", OUT_OF_RANGE[:5])
def test_rest_create_and_update_outside_the_range_are_400(kiritimati, alice_client, text):
    created = alice_client.post("/api/todos/", {"title": "far away", "due_at": text}, format="json")
    assert created.status_code == 400, (text, created.content)
    assert created.json()["error"]["code"] == "validation_error"
    assert "due_at" in created.json()["error"]["details"]
    todo = todo_create(owner=kiritimati, title="near")
    updated = alice_client.patch(f"/api/todos/{todo.pk}/", {"due_at": text}, format="json")
    assert updated.status_code == 400, (text, updated.content)
    assert "due_at" in updated.json()["error"]["details"]
    assert not Todo.objects.filter(owner=kiritimati, title="far away").exists()
    # The owner's list still reads.
    assert alice_client.get("/api/todos/").status_code == 200


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_rest_invoke_refuses_dates_outside_the_range_for_every_date_argument(kiritimati, alice_client, text):
    todo = todo_create(owner=kiritimati, title="near")
    calls = [
        ("list_todos", {"due_before": text}),
        ("list_todos", {"due_after": text}),
        ("create_todos", {"items": [{"title": "far away", "due": text}]}),
        ("set_due_date", {"id": todo.pk, "due": text}),
        ("update_todo", {"id": todo.pk, "due": text}),
    ]
    for tool_name, parameters in calls:
        response = invoke(alice_client, tool_name, parameters)
        assert response.status_code == 400, (tool_name, text, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid_date"
        assert "1900-01-01" in error["message"]
    todo.refresh_from_db()
    assert todo.due_at is None
    assert invoke(alice_client, "list_todos", {}).status_code == 200


def test_the_pipeline_never_hands_postgresql_an_offset_it_cannot_parse(kiritimati):
    principal = principal_for_user(kiritimati, auth_method="jwt")
    outcome = tool_invoke(
        principal=principal,
        tool_name="list_todos",
        arguments={"due_before": "2026-01-01T00:00:00-20:00"},
        transport="mcp",
    )
    assert outcome.success is False
    assert outcome.error.code == "invalid_date"
    assert "displacement" not in outcome.error.message
    assert outcome.error.message == DUE_RANGE_MESSAGE


def test_a_todo_due_on_the_first_day_of_year_one_in_kiritimati_is_refused_and_the_list_still_reads(
    kiritimati, alice_client
):
    response = alice_client.post("/api/todos/", {"title": "ancient", "due_at": "0001-01-01T00:00"}, format="json")
    assert response.status_code == 400
    outcome = tool_invoke(
        principal=principal_for_user(kiritimati, auth_method="jwt"),
        tool_name="create_todos",
        arguments={"items": [{"title": "ancient", "due": "0001-01-01T00:00"}]},
        transport="mcp",
    )
    assert outcome.error is not None and outcome.error.code == "invalid_date"
    assert alice_client.get("/api/todos/").status_code == 200
    listed = tool_invoke(
        principal=principal_for_user(kiritimati, auth_method="jwt"),
        tool_name="list_todos",
        arguments={"status": "all"},
        transport="mcp",
    )
    assert listed.success is True


def test_services_refuse_out_of_range_dates_from_any_other_door(alice):
    far = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput) as caught:
        todo_create(owner=alice, title="far", due_at=far)
    assert "due_at" in caught.value.details
    todo = todo_create(owner=alice, title="near", due_at=dt.datetime(2999, 12, 31, tzinfo=dt.UTC))
    with pytest.raises(InvalidInput):
        todo_update(todo=todo, changes={"due_at": dt.datetime(1899, 12, 31, tzinfo=dt.UTC)})


@pytest.mark.postgres  # only PostgreSQL could store a due date outside years 1..9999
def test_a_due_date_stored_before_the_range_existed_no_longer_breaks_the_list(alice, alice_client):
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    broken = todo_create(owner=alice, title="ancient")
    kept = todo_create(owner=alice, title="old but fine", due_at=dt.datetime(1950, 1, 1, tzinfo=dt.UTC))
    with connection.cursor() as cursor:
        # What a todo due 0001-01-01T00:00 in Pacific/Kiritimati (UTC+14) became: year 0 in UTC.
        cursor.execute("UPDATE todos_todo SET due_at = '0001-12-31 10:00:00+00 BC' WHERE id = %s", [broken.pk])
    assert alice_client.get("/api/todos/").status_code >= 400

    migration = importlib.import_module("apps.todos.migrations.0003_clear_unreadable_due_dates")
    with connection.schema_editor() as editor:
        migration.clear_unreadable_due_dates(django_apps, editor)

    response = alice_client.get("/api/todos/")
    assert response.status_code == 200
    due = {item["title"]: item["due_at"] for item in response.json()["results"]}
    assert due["ancient"] is None
    assert due["old but fine"].startswith("1950-01-01")
    assert Todo.objects.filter(pk=kept.pk).exists()
