import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.todos.representation import TODO_FIELDS, todo_as_dict
from apps.todos.serializers import TodoSerializer
from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db


def test_the_rest_shape_and_the_tool_shape_are_one(alice):
    todo = todo_create(
        owner=alice, title="Pay rent", tags=["home"], due_at=dt.datetime(2030, 1, 10, 17, 0, tzinfo=dt.UTC)
    )
    berlin = ZoneInfo("Europe/Berlin")
    with timezone.override(berlin):
        rest = TodoSerializer(todo).data
    tool = todo_as_dict(todo, tz=berlin)
    assert list(TodoSerializer().fields) == list(TODO_FIELDS) == list(rest) == list(tool)
    assert rest == tool
    assert rest["due_at"] == "2030-01-10T18:00:00+01:00"
    assert rest["tags"] == ["home"]


def test_rest_writes_utc_as_z_and_tools_with_the_offset(alice):
    todo = todo_create(owner=alice, title="Standup", due_at=dt.datetime(2030, 1, 10, 9, 0, tzinfo=dt.UTC))
    with timezone.override(dt.UTC):
        assert TodoSerializer(todo).data["due_at"] == "2030-01-10T09:00:00Z"
    assert todo_as_dict(todo, tz=ZoneInfo("UTC"))["due_at"] == "2030-01-10T09:00:00+00:00"
    assert todo_as_dict(todo, tz=ZoneInfo("UTC"))["completed_at"] is None
