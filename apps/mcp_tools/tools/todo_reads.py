"""Todo tools that read: list, search, get, overview. Thin wrappers over apps.todos selectors, always
on the caller's own todos, cached per user until the todos change (tools/todo_group.py)."""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import Principal
from apps.core.errors import InvalidInput
from apps.mcp_tools.pipeline.registry import tool
from apps.mcp_tools.tools.schemas import DATE_BOUND, ORDERING, PRIORITY, STATUS, TODO, TODO_ID, obj
from apps.mcp_tools.tools.todo_common import CACHED, PAGING, READ, TODO_LIST_RESULT, due_read, todo_fresh, todo_page
from apps.todos import selectors


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
        filters["due_after"] = due_read(principal, due_after, field="due_after", bound="start").isoformat()
    if due_before is not None:
        filters["due_before"] = due_read(principal, due_before, field="due_before", bound="end").isoformat()
    if overdue is not None:
        filters["overdue"] = "true" if overdue else "false"
    if tag is not None:
        filters["tag"] = tag
    if text is not None:
        filters["search"] = text
    return todo_page(principal, filters, limit=limit, offset=offset)


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
    return todo_page(principal, {"search": query, "status": status}, limit=limit, offset=offset)


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
    return {"todo": todo_fresh(principal, id)}


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
