"""The todos app's one event for the layers above it: "this user's todos changed".

Sent on every change to a todo or to its tags, whichever door made it (REST, MCP, chat, pages,
admin), because it hangs off the model signals rather than off any service. Whoever keeps
something derived from a user's todos (the tool result cache, the AI answer cache) listens here,
so this app names none of them.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal, receiver

from apps.todos.models import Todo

# Sent with owner_id (int): the user whose todos changed.
todos_changed = Signal()


def _changed(owner_id: int | None) -> None:
    if owner_id is not None:
        todos_changed.send(sender=Todo, owner_id=owner_id)


@receiver(post_save, sender=Todo, dispatch_uid="todos.todo_saved")
@receiver(post_delete, sender=Todo, dispatch_uid="todos.todo_deleted")
def _todo_changed(sender: Any, instance: Todo, **kwargs: Any) -> None:
    _changed(instance.owner_id)


@receiver(m2m_changed, sender=Todo.tags.through, dispatch_uid="todos.todo_tags_changed")
def _todo_tags_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        _changed(getattr(instance, "owner_id", None))
