"""What the todo tools share: their scopes and cache group, reading a due date in the caller's time
zone, the caller's todos as the tools answer them, and the list result's schema."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apps.accounts.principal import Principal
from apps.accounts.scopes import TODOS_READ, TODOS_WRITE
from apps.core.errors import InvalidInput, NotFound
from apps.core.timezones import zone_or_utc
from apps.mcp_tools.tools.schemas import PAGE_MAX, TODO, obj
from apps.mcp_tools.tools.todo_group import TODOS_GROUP
from apps.todos import selectors
from apps.todos.dates import due_parse
from apps.todos.representation import todo_as_dict

if TYPE_CHECKING:
    from apps.todos.models import Todo

READ = {"required_scope": TODOS_READ, "cache_group": TODOS_GROUP}
WRITE = {"required_scope": TODOS_WRITE, "cache_group": TODOS_GROUP}
CACHED = {"default_cacheable": True}


def principal_zone(principal: Principal) -> ZoneInfo:
    return zone_or_utc(principal.user.timezone)


def due_read(principal: Principal, value: str | None, *, field: str, bound: str = "due") -> dt.datetime | None:
    if value is None:
        return None
    try:
        return due_parse(text=value, tz_name=principal.user.timezone, bound=bound)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, code=exc.code, details={field: [exc.message]}) from None


def todo_fresh(principal: Principal, todo_id: int) -> dict[str, Any]:
    return todo_as_dict(selectors.todo_get(owner=principal.user, todo_id=todo_id), tz=principal_zone(principal))


def todos_owned(principal: Principal, ids: list[int]) -> list[Todo]:
    """All of these ids must be the caller's; otherwise nothing happens and the missing ids are named."""
    todos = selectors.todo_map_by_ids(owner=principal.user, ids=ids)
    missing = [todo_id for todo_id in ids if todo_id not in todos]
    if missing:
        raise NotFound("Some of these todos do not exist.", details={"missing_ids": missing})
    return [todos[todo_id] for todo_id in ids]


def todos_as_dicts(principal: Principal, ids: list[int]) -> list[dict[str, Any]]:
    tz = principal_zone(principal)
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


def todo_page(principal: Principal, filters: dict[str, Any], *, limit: int, offset: int) -> dict[str, Any]:
    queryset = selectors.todo_list(owner=principal.user, filters=filters)
    total = queryset.count()
    tz = principal_zone(principal)
    todos = [todo_as_dict(todo, tz=tz) for todo in queryset[offset : offset + limit]]
    next_offset = offset + limit if offset + limit < total else None
    return {"todos": todos, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}
