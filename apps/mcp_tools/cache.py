"""The tool result cache: per user, per tool, per canonical arguments, with per-user versions.

A cache group (e.g. "todos") has a version number per user. It is part of every key, so bumping it
makes all of that user's cached todo results unreachable at once, on every process, without
scanning keys. Any change to a user's todos bumps it, whichever door made the change (REST, MCP,
admin), because the bump hangs off the model signals rather than off the tools.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.todos.models import Todo

RESULT_PREFIX = "mcp:result"
VERSION_PREFIX = "mcp:version"
TODOS_GROUP = "todos"


def arguments_digest(arguments: dict[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _version_key(user_id: int, group: str) -> str:
    return f"{VERSION_PREFIX}:{group}:{user_id}"


def cache_group_version(*, user_id: int, group: str) -> int:
    return int(cache.get(_version_key(user_id, group)) or 0)


def cache_group_bump(*, user_id: int, group: str) -> None:
    key = _version_key(user_id, group)
    # add() then incr() is atomic on Redis; the version never expires so it can only move forward.
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=None)


def result_key(*, user_id: int, tool_name: str, group: str, arguments: dict[str, Any]) -> str:
    version = cache_group_version(user_id=user_id, group=group) if group else 0
    return f"{RESULT_PREFIX}:{user_id}:{tool_name}:{version}:{arguments_digest(arguments)}"


def result_get(key: str) -> dict[str, Any] | None:
    return cache.get(key)


def result_set(key: str, value: dict[str, Any], *, ttl: int) -> None:
    cache.set(key, value, timeout=ttl)


def _bump_todos(owner_id: int | None) -> None:
    if owner_id is None:
        return
    cache_group_bump(user_id=owner_id, group=TODOS_GROUP)
    # Again after commit: a read in another transaction may have cached pre-commit data meanwhile.
    transaction.on_commit(lambda: cache_group_bump(user_id=owner_id, group=TODOS_GROUP))


@receiver(post_save, sender=Todo, dispatch_uid="mcp_tools.todo_saved")
@receiver(post_delete, sender=Todo, dispatch_uid="mcp_tools.todo_deleted")
def _todo_changed(sender: Any, instance: Todo, **kwargs: Any) -> None:
    _bump_todos(instance.owner_id)


@receiver(m2m_changed, sender=Todo.tags.through, dispatch_uid="mcp_tools.todo_tags_changed")
def _todo_tags_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        _bump_todos(getattr(instance, "owner_id", None))
