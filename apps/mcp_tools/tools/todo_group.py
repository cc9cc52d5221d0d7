"""The "todos" cache group: what the todo tools' results (and the AI answers drawn from a user's
todos) depend on.

The pipeline's cache knows groups, not todos: here the tool layer ties the group to the todos app's
change event, so any change to a user's todos, by any door, moves that user's version of the group
and every cached result that read the old todos becomes unreachable on every process.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.mcp_tools.pipeline.cache import cache_group_changed
from apps.todos.signals import todos_changed

TODOS_GROUP = "todos"


@receiver(todos_changed, dispatch_uid="mcp_tools.todos_changed")
def _todos_changed(sender: Any, *, owner_id: int, **kwargs: Any) -> None:
    cache_group_changed(user_id=owner_id, group=TODOS_GROUP)
