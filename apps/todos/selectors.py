"""Reads of todos, always scoped to one owner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import InvalidInput, NotFound
from apps.core.timezones import zone_or_utc
from apps.todos.filters import TodoFilter, with_priority_rank
from apps.todos.models import Todo


def todo_base_queryset(*, owner: User) -> QuerySet[Todo]:
    return with_priority_rank(Todo.objects.filter(owner=owner)).prefetch_related("tags")


def todo_map_by_ids(*, owner: User, ids: list[int]) -> dict[int, Todo]:
    """The owner's todos among `ids`, by id (others' and missing ids are simply absent)."""
    return {todo.pk: todo for todo in todo_base_queryset(owner=owner).filter(pk__in=ids)}


def todo_get(*, owner: User, todo_id: Any) -> Todo:
    try:
        todo_id = int(todo_id)
    except (TypeError, ValueError):
        raise NotFound("No such todo.") from None
    todo = todo_base_queryset(owner=owner).filter(pk=todo_id).first()
    if todo is None:
        # The same answer whether the todo is someone else's or does not exist.
        raise NotFound("No such todo.", details={"id": todo_id})
    return todo


def todo_list(*, owner: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Todo]:
    """Filter and order one user's todos; invalid filter values raise InvalidInput."""
    filters = filters if filters is not None else {}
    unknown = sorted(set(filters) - set(TodoFilter.base_filters))
    if unknown:
        raise InvalidInput("Unknown filters.", details={name: ["Unknown filter."] for name in unknown})
    filterset = TodoFilter(data=filters, queryset=todo_base_queryset(owner=owner))
    if not filterset.is_valid():
        raise InvalidInput(
            "Some filters are invalid.", details={field: list(messages) for field, messages in filterset.errors.items()}
        )
    return filterset.qs


def todo_overview(*, owner: User) -> dict[str, Any]:
    """Counts a model can use to summarise a user's day, in the user's own time zone."""
    tz = zone_or_utc(owner.timezone)
    now = timezone.now()
    local_today = now.astimezone(tz).date()
    start_of_day = dt.datetime.combine(local_today, dt.time.min, tzinfo=tz)
    end_of_day = start_of_day + dt.timedelta(days=1)
    open_q = Q(completed_at__isnull=True)
    counts = Todo.objects.filter(owner=owner).aggregate(
        total=Count("id"),
        open=Count("id", filter=open_q),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
        overdue=Count("id", filter=open_q & Q(due_at__lt=now)),
        due_today=Count("id", filter=open_q & Q(due_at__gte=start_of_day, due_at__lt=end_of_day)),
        urgent_open=Count("id", filter=open_q & Q(priority="urgent")),
        high_open=Count("id", filter=open_q & Q(priority="high")),
    )
    counts["timezone"] = str(tz)
    counts["today"] = local_today.isoformat()
    return counts
