"""Todo tools: thin wrappers over apps.todos services and selectors, always on the caller's own todos."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apps.accounts.principal import Principal
from apps.accounts.scopes import TODOS_READ, TODOS_WRITE
from apps.core.errors import InvalidInput, NotFound
from apps.core.timezones import zone_or_utc
from apps.mcp_tools.pipeline.registry import tool
from apps.mcp_tools.tools.schemas import (
    BATCH_MAX,
    DATE_BOUND,
    DESCRIPTION,
    DUE,
    ORDERING,
    PAGE_MAX,
    PRIORITY,
    STATUS,
    TAGS,
    TITLE,
    TODO,
    TODO_ID,
    TODO_IDS,
    obj,
)
from apps.mcp_tools.tools.todo_group import TODOS_GROUP
from apps.todos import selectors, services
from apps.todos.dates import due_parse
from apps.todos.representation import moment_text, todo_as_dict

if TYPE_CHECKING:
    from apps.todos.models import Todo

READ = {"required_scope": TODOS_READ, "cache_group": TODOS_GROUP}
WRITE = {"required_scope": TODOS_WRITE, "cache_group": TODOS_GROUP}
CACHED = {"default_cacheable": True}


def _zone(principal: Principal) -> ZoneInfo:
    return zone_or_utc(principal.user.timezone)


def _due(principal: Principal, value: str | None, *, field: str, bound: str = "due") -> dt.datetime | None:
    if value is None:
        return None
    try:
        return due_parse(text=value, tz_name=principal.user.timezone, bound=bound)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, code=exc.code, details={field: [exc.message]}) from None


def _fresh(principal: Principal, todo_id: int) -> dict[str, Any]:
    return todo_as_dict(selectors.todo_get(owner=principal.user, todo_id=todo_id), tz=_zone(principal))


def _owned(principal: Principal, ids: list[int]) -> list[Todo]:
    """All of these ids must be the caller's; otherwise nothing happens and the missing ids are named."""
    todos = selectors.todo_map_by_ids(owner=principal.user, ids=ids)
    missing = [todo_id for todo_id in ids if todo_id not in todos]
    if missing:
        raise NotFound("Some of these todos do not exist.", details={"missing_ids": missing})
    return [todos[todo_id] for todo_id in ids]


def _many(principal: Principal, ids: list[int]) -> list[dict[str, Any]]:
    tz = _zone(principal)
    todos = selectors.todo_map_by_ids(owner=principal.user, ids=ids)
    return [todo_as_dict(todos[todo_id], tz=tz) for todo_id in ids if todo_id in todos]


TODO_LIST_RESULT = obj(
    {
        "todos": {"type": "array", "items": TODO},
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "next_offset": {"type": ["integer", "null"]},
    },
    required=["todos", "total", "limit", "offset", "next_offset"],
)
PAGING = {
    "limit": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 20},
    "offset": {"type": "integer", "minimum": 0, "default": 0},
}


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
                due_at=_due(principal, item.get("due"), field="due"),
                tags=item.get("tags", ()),
            )
        except InvalidInput as exc:
            raise InvalidInput(
                f"Item {index}: {exc.message}", code=exc.code, details={str(index): exc.details}
            ) from None
        ids.append(todo.pk)
    created = _many(principal, ids)
    return {"created": created, "count": len(created)}


def _list(principal: Principal, filters: dict[str, Any], *, limit: int, offset: int) -> dict[str, Any]:
    queryset = selectors.todo_list(owner=principal.user, filters=filters)
    total = queryset.count()
    tz = _zone(principal)
    todos = [todo_as_dict(todo, tz=tz) for todo in queryset[offset : offset + limit]]
    next_offset = offset + limit if offset + limit < total else None
    return {"todos": todos, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}


@tool(
    name="list_todos",
    title="List todos",
    description=(
        "List the user's todos, newest first unless `ordering` says otherwise. Filters combine: status "
        "(open by default; completed or all), priority (any of), due_after/due_before (ISO 8601 or phrases), "
        "overdue, tag, text (words in title, description or tags). A day in due_after means from its start, in "
        "due_before until its end. Paginated: pass next_offset back as offset."
    ),
    input_schema=obj(
        {
            "status": STATUS,
            "priority": {"type": "array", "items": PRIORITY, "minItems": 1, "uniqueItems": True},
            "due_after": DATE_BOUND,
            "due_before": DATE_BOUND,
            "overdue": {"type": "boolean"},
            "tag": {"type": "string", "minLength": 1, "maxLength": 40},
            "text": {"type": "string", "minLength": 1, "maxLength": 200},
            "ordering": ORDERING,
            **PAGING,
        }
    ),
    output_schema=TODO_LIST_RESULT,
    read_only=True,
    idempotent=True,
    **READ,
    **CACHED,
)
def list_todos(
    principal: Principal,
    *,
    status: str = "open",
    priority: list[str] | None = None,
    due_after: str | None = None,
    due_before: str | None = None,
    overdue: bool | None = None,
    tag: str | None = None,
    text: str | None = None,
    ordering: str = "-created",
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    filters: dict[str, Any] = {"status": status, "ordering": ordering}
    if priority:
        filters["priority"] = priority
    if due_after is not None:
        filters["due_after"] = _due(principal, due_after, field="due_after", bound="start").isoformat()
    if due_before is not None:
        filters["due_before"] = _due(principal, due_before, field="due_before", bound="end").isoformat()
    if overdue is not None:
        filters["overdue"] = "true" if overdue else "false"
    if tag is not None:
        filters["tag"] = tag
    if text is not None:
        filters["search"] = text
    return _list(principal, filters, limit=limit, offset=offset)


@tool(
    name="search_todos",
    title="Search todos",
    description=(
        "Find the user's todos whose title, description or tags contain every word of `query`. "
        "Searches all todos unless status says open or completed. Paginated like list_todos."
    ),
    input_schema=obj(
        {
            "query": {"type": "string", "minLength": 1, "maxLength": 200},
            "status": {**STATUS, "default": "all"},
            **PAGING,
        },
        required=["query"],
    ),
    output_schema=TODO_LIST_RESULT,
    read_only=True,
    idempotent=True,
    **READ,
    **CACHED,
)
def search_todos(
    principal: Principal, *, query: str, status: str = "all", limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    if not query.split():
        raise InvalidInput("The query has no words.", details={"query": ["Give at least one word."]})
    return _list(principal, {"search": query, "status": status}, limit=limit, offset=offset)


@tool(
    name="get_todo",
    title="Get a todo",
    description="Get one of the user's todos by id.",
    input_schema=obj({"id": TODO_ID}, required=["id"]),
    output_schema=obj({"todo": TODO}, required=["todo"]),
    read_only=True,
    idempotent=True,
    **READ,
    **CACHED,
)
def get_todo(principal: Principal, *, id: int) -> dict[str, Any]:
    return {"todo": _fresh(principal, id)}


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
        changes["due_at"] = _due(principal, fields["due"], field="due")
    services.todo_update(todo=todo, changes=changes)
    return {"todo": _fresh(principal, id)}


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
    for todo in _owned(principal, ids):
        services.todo_complete(todo=todo)
    completed = _many(principal, ids)
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
    return {"todo": _fresh(principal, id)}


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
    for todo in _owned(principal, ids):
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
    return {"todo": _fresh(principal, id)}


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
    due_at = _due(principal, due, field="due")
    services.todo_update(todo=todo, changes={"due_at": due_at})
    tz = _zone(principal)
    return {"todo": _fresh(principal, id), "interpreted_due_at": moment_text(due_at, tz=tz), "timezone": str(tz)}


@tool(
    name="todo_overview",
    title="Todo overview",
    description=(
        "Counts for the user's todos: total, open, completed, overdue, due today (in the user's time zone), "
        "and open urgent/high ones. Good for a daily summary."
    ),
    input_schema=obj({}),
    output_schema=obj(
        {
            "total": {"type": "integer"},
            "open": {"type": "integer"},
            "completed": {"type": "integer"},
            "overdue": {"type": "integer"},
            "due_today": {"type": "integer"},
            "urgent_open": {"type": "integer"},
            "high_open": {"type": "integer"},
            "timezone": {"type": "string"},
            "today": {"type": "string"},
        },
        required=[
            "total",
            "open",
            "completed",
            "overdue",
            "due_today",
            "urgent_open",
            "high_open",
            "timezone",
            "today",
        ],
    ),
    read_only=True,
    idempotent=True,
    **READ,
    **CACHED,
)
def todo_overview(principal: Principal) -> dict[str, Any]:
    return selectors.todo_overview(owner=principal.user)
