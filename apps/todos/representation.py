"""The one shape of a todo, shared by every door (the REST resource API and the tools)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from apps.todos.models import Todo

TODO_FIELDS = (
    "id",
    "title",
    "description",
    "priority",
    "due_at",
    "tags",
    "status",
    "is_overdue",
    "completed_at",
    "created_at",
    "updated_at",
)


def moment_text(value: dt.datetime | None, *, tz: ZoneInfo, zulu: bool = False) -> str | None:
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    # The REST API has always written UTC as "Z" (DRF's convention), and its clients parse that form.
    return text[:-6] + "Z" if zulu and text.endswith("+00:00") else text


def todo_as_dict(todo: Todo, *, tz: ZoneInfo, zulu: bool = False) -> dict[str, Any]:
    """A todo with its times in `tz`, the user's own zone, with its offset (REST writes UTC as "Z").

    Tags come from `todo.tags.all()`, so callers listing many todos prefetch them (the selectors do).
    """
    return {
        "id": todo.pk,
        "title": todo.title,
        "description": todo.description,
        "priority": todo.priority,
        "due_at": moment_text(todo.due_at, tz=tz, zulu=zulu),
        "tags": [tag.name for tag in todo.tags.all()],
        "status": todo.status,
        "is_overdue": todo.is_overdue,
        "completed_at": moment_text(todo.completed_at, tz=tz, zulu=zulu),
        "created_at": moment_text(todo.created_at, tz=tz, zulu=zulu),
        "updated_at": moment_text(todo.updated_at, tz=tz, zulu=zulu),
    }
