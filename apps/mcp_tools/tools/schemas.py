"""JSON Schema pieces shared by the tools, so every tool describes a todo the same way."""

from __future__ import annotations

from typing import Any

from apps.todos.filters import ORDERINGS
from apps.todos.rules import DESCRIPTION_MAX_LENGTH, TAG_MAX_LENGTH, TAGS_PER_TODO_MAX, TITLE_MAX_LENGTH, Priority

BATCH_MAX = 50
PAGE_MAX = 100

TODO_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "description": "The todo's id."}
TODO_IDS: dict[str, Any] = {
    "type": "array",
    "items": TODO_ID,
    "minItems": 1,
    "maxItems": BATCH_MAX,
    "uniqueItems": True,
    "description": f"Ids of your todos (1 to {BATCH_MAX}).",
}
TITLE: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": TITLE_MAX_LENGTH}
DESCRIPTION: dict[str, Any] = {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH}
PRIORITY: dict[str, Any] = {"type": "string", "enum": [value for value, _ in Priority.choices]}
TAGS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH},
    "maxItems": TAGS_PER_TODO_MAX,
}
DUE: dict[str, Any] = {
    "type": ["string", "null"],
    "maxLength": 100,
    "description": (
        "When it is due: ISO 8601 ('2026-12-01T17:00', a naive time is in your time zone) or a phrase "
        "such as 'tomorrow 5pm' or 'next friday' (a day without a time means the end of that day). "
        "null for no due date."
    ),
}
DATE_BOUND: dict[str, Any] = {
    "type": "string",
    "maxLength": 100,
    "description": "ISO 8601 or a phrase such as 'today', 'next monday'.",
}
ORDERING: dict[str, Any] = {"type": "string", "enum": list(ORDERINGS), "default": "-created"}
STATUS: dict[str, Any] = {"type": "string", "enum": ["open", "completed", "all"], "default": "open"}
DATETIME_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}

TODO_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "priority": PRIORITY,
    "due_at": DATETIME_OR_NULL,
    "tags": {"type": "array", "items": {"type": "string"}},
    "status": {"type": "string", "enum": ["open", "completed"]},
    "is_overdue": {"type": "boolean"},
    "completed_at": DATETIME_OR_NULL,
    "created_at": {"type": "string"},
    "updated_at": {"type": "string"},
}
# Every field is always present: a model can rely on the shape (TodoSerializer's fields).
TODO: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(TODO_PROPERTIES),
    "properties": TODO_PROPERTIES,
}


def obj(properties: dict[str, Any], *, required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An object schema that refuses unknown properties."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema
