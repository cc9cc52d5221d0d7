"""Todo tools that change todos: create, update, complete, reopen, delete, set priority or due date.
Thin wrappers over apps.todos services, always on the caller's own todos."""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import Principal
from apps.core.errors import InvalidInput
from apps.mcp_tools.pipeline.registry import tool
from apps.mcp_tools.tools.schemas import (
    BATCH_MAX,
    DESCRIPTION,
    DUE,
    PRIORITY,
    TAGS,
    TITLE,
    TODO,
    TODO_ID,
    TODO_IDS,
    obj,
)
from apps.mcp_tools.tools.todo_common import WRITE, due_read, principal_zone, todo_fresh, todos_as_dicts, todos_owned
from apps.todos import selectors, services
from apps.todos.representation import moment_text


@tool(
    name="create_todos",
    title="Create todos",
    description=(
        f"Create 1 to {BATCH_MAX} todos for the user in one call. Each item needs a title; priority is "
        "low/medium/high/urgent (default medium); due accepts ISO 8601 or phrases like 'tomorrow 5pm' in the "
        "user's time zone. All items are created, or none if any is invalid."
    ),
    input_schema=obj(
        {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": BATCH_MAX,
                "items": obj(
                    {"title": TITLE, "description": DESCRIPTION, "priority": PRIORITY, "due": DUE, "tags": TAGS},
                    required=["title"],
                ),
            }
        },
        required=["items"],
    ),
    output_schema=obj(
        {"created": {"type": "array", "items": TODO}, "count": {"type": "integer"}}, required=["created", "count"]
    ),
    read_only=False,
    **WRITE,
)
def create_todos(principal: Principal, *, items: list[dict[str, Any]]) -> dict[str, Any]:
    ids = []
    for index, item in enumerate(items):
        try:
            todo = services.todo_create(
                owner=principal.user,
                title=item["title"],
                description=item.get("description", ""),
                priority=item.get("priority", "medium"),
                due_at=due_read(principal, item.get("due"), field="due"),
                tags=item.get("tags", ()),
            )
        except InvalidInput as exc:
            raise InvalidInput(
                f"Item {index}: {exc.message}", code=exc.code, details={str(index): exc.details}
            ) from None
        ids.append(todo.pk)
    created = todos_as_dicts(principal, ids)
    return {"created": created, "count": len(created)}


@tool(
    name="update_todo",
    title="Update a todo",
    description=(
        "Change some fields of one todo: title, description, priority, due (ISO 8601, a phrase, or null to "
        "clear) and tags (replaces the tag list). Fields left out stay as they are."
    ),
    input_schema=obj(
        {
            "id": TODO_ID,
            "title": TITLE,
            "description": DESCRIPTION,
            "priority": PRIORITY,
            "due": DUE,
            "tags": TAGS,
        },
        required=["id"],
        minProperties=2,
    ),
    output_schema=obj({"todo": TODO}, required=["todo"]),
    read_only=False,
    idempotent=True,
    **WRITE,
)
def update_todo(principal: Principal, *, id: int, **fields: Any) -> dict[str, Any]:
    todo = selectors.todo_get(owner=principal.user, todo_id=id)
    changes = {name: value for name, value in fields.items() if name != "due"}
    if "due" in fields:
        changes["due_at"] = due_read(principal, fields["due"], field="due")
    services.todo_update(todo=todo, changes=changes)
    return {"todo": todo_fresh(principal, id)}


@tool(
    name="complete_todos",
    title="Complete todos",
    description=(
        f"Mark 1 to {BATCH_MAX} of the user's todos as done. Completing a done todo keeps its first completion "
        "time. If any id is not the user's todo, nothing changes and the missing ids are named."
    ),
    input_schema=obj({"ids": TODO_IDS}, required=["ids"]),
    output_schema=obj(
        {"completed": {"type": "array", "items": TODO}, "count": {"type": "integer"}}, required=["completed", "count"]
    ),
    read_only=False,
    idempotent=True,
    **WRITE,
)
def complete_todos(principal: Principal, *, ids: list[int]) -> dict[str, Any]:
    for todo in todos_owned(principal, ids):
        services.todo_complete(todo=todo)
    completed = todos_as_dicts(principal, ids)
    return {"completed": completed, "count": len(completed)}


@tool(
    name="reopen_todo",
    title="Reopen a todo",
    description="Mark a completed todo as open again.",
    input_schema=obj({"id": TODO_ID}, required=["id"]),
    output_schema=obj({"todo": TODO}, required=["todo"]),
    read_only=False,
    idempotent=True,
    **WRITE,
)
def reopen_todo(principal: Principal, *, id: int) -> dict[str, Any]:
    services.todo_reopen(todo=selectors.todo_get(owner=principal.user, todo_id=id))
    return {"todo": todo_fresh(principal, id)}


@tool(
    name="delete_todos",
    title="Delete todos",
    description=(
        f"Delete 1 to {BATCH_MAX} of the user's todos for good. If any id is not the user's todo, nothing is "
        "deleted and the missing ids are named. Ask the user before deleting."
    ),
    input_schema=obj({"ids": TODO_IDS}, required=["ids"]),
    output_schema=obj(
        {"deleted_ids": {"type": "array", "items": {"type": "integer"}}, "count": {"type": "integer"}},
        required=["deleted_ids", "count"],
    ),
    read_only=False,
    destructive=True,
    idempotent=False,
    **WRITE,
)
def delete_todos(principal: Principal, *, ids: list[int]) -> dict[str, Any]:
    for todo in todos_owned(principal, ids):
        services.todo_delete(todo=todo)
    return {"deleted_ids": list(ids), "count": len(ids)}


@tool(
    name="set_priority",
    title="Set a todo's priority",
    description="Set the priority of one todo: low, medium, high or urgent.",
    input_schema=obj({"id": TODO_ID, "priority": PRIORITY}, required=["id", "priority"]),
    output_schema=obj({"todo": TODO}, required=["todo"]),
    read_only=False,
    idempotent=True,
    **WRITE,
)
def set_priority(principal: Principal, *, id: int, priority: str) -> dict[str, Any]:
    todo = selectors.todo_get(owner=principal.user, todo_id=id)
    services.todo_update(todo=todo, changes={"priority": priority})
    return {"todo": todo_fresh(principal, id)}


@tool(
    name="set_due_date",
    title="Set or clear a due date",
    description=(
        "Set when a todo is due, as ISO 8601 or a phrase such as 'tomorrow 5pm' or 'next friday', read in the "
        "user's time zone (a day without a time means the end of that day); null clears the due date. "
        "The answer shows how the phrase was understood."
    ),
    input_schema=obj({"id": TODO_ID, "due": DUE}, required=["id", "due"]),
    output_schema=obj(
        {"todo": TODO, "interpreted_due_at": {"type": ["string", "null"]}, "timezone": {"type": "string"}},
        required=["todo", "interpreted_due_at", "timezone"],
    ),
    read_only=False,
    idempotent=True,
    **WRITE,
)
def set_due_date(principal: Principal, *, id: int, due: str | None) -> dict[str, Any]:
    todo = selectors.todo_get(owner=principal.user, todo_id=id)
    due_at = due_read(principal, due, field="due")
    services.todo_update(todo=todo, changes={"due_at": due_at})
    tz = principal_zone(principal)
    return {"todo": todo_fresh(principal, id), "interpreted_due_at": moment_text(due_at, tz=tz), "timezone": str(tz)}
