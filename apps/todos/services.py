"""Todo services: every change to a todo, from REST, MCP or the admin, goes through here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import audit_event_record
from apps.core.errors import InvalidInput
from apps.core.request_context import request_context_current
from apps.todos.models import Tag, Todo
from apps.todos.rules import TAG_MAX_LENGTH, TAGS_PER_TODO_MAX, Priority

UPDATABLE_FIELDS = ("title", "description", "priority", "due_at", "tags")


def _normalise_tags(tags: Iterable[str]) -> list[str]:
    names: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise InvalidInput("Tags must be strings.", details={"tags": ["Tags must be strings."]})
        name = " ".join(raw.split()).lower()
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise InvalidInput(
                "A tag is too long.", details={"tags": [f"Tags are at most {TAG_MAX_LENGTH} characters."]}
            )
        if name not in names:
            names.append(name)
    if len(names) > TAGS_PER_TODO_MAX:
        raise InvalidInput("Too many tags.", details={"tags": [f"At most {TAGS_PER_TODO_MAX} tags per todo."]})
    return names


def _set_tags(*, todo: Todo, names: list[str]) -> None:
    tags = []
    for name in names:
        tag = Tag(owner=todo.owner, name=name)
        try:
            tag.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise InvalidInput("A tag is invalid.", details={"tags": exc.message_dict.get("name", [])}) from None
        tag, _ = Tag.objects.get_or_create(owner=todo.owner, name=name)
        tags.append(tag)
    todo.tags.set(tags)


def _validated_save(todo: Todo) -> None:
    try:
        todo.full_clean(exclude=["owner"])
    except ValidationError as exc:
        raise InvalidInput("The todo is invalid.", details=exc.message_dict) from None
    todo.save()


def _audit(action: str, *, todo: Todo, todo_id: int | None = None, fields: Iterable[str] = ()) -> None:
    """One event per change, in the change's transaction, by whoever the request context names
    (every door authenticates into it). A change a tool made carries the tool call's invocation_id."""
    data: dict[str, Any] = {"fields": sorted(fields)}
    invocation_id = request_context_current().invocation_id
    if invocation_id:
        data["invocation_id"] = invocation_id
    audit_event_record(
        action=action,
        category="todo",
        subject=todo.owner_id,
        target_type="todo",
        target_id=todo_id if todo_id is not None else todo.pk,
        data=data,
    )


def _check_aware(due_at: dt.datetime | None) -> None:
    if due_at is not None and timezone.is_naive(due_at):
        # Services never guess a time zone; doors convert user input first.
        raise InvalidInput("The due date needs a time zone.", details={"due_at": ["Give a timezone-aware time."]})


@transaction.atomic
def todo_create(
    *,
    owner: User,
    title: str,
    description: str = "",
    priority: str = Priority.MEDIUM,
    due_at: dt.datetime | None = None,
    tags: Iterable[str] = (),
) -> Todo:
    _check_aware(due_at)
    todo = Todo(
        owner=owner, title=(title or "").strip(), description=description or "", priority=priority, due_at=due_at
    )
    _validated_save(todo)
    names = _normalise_tags(tags)
    if names:
        _set_tags(todo=todo, names=names)
    _audit("todo.created", todo=todo, fields=["title", "description", "priority", "due_at", "tags"])
    return todo


@transaction.atomic
def todo_update(*, todo: Todo, changes: Mapping[str, Any]) -> Todo:
    """Apply a partial update; keys outside UPDATABLE_FIELDS are refused, not ignored."""
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidInput("Some fields cannot be changed.", details={name: ["Unknown field."] for name in unknown})
    for field in ("title", "description", "priority", "due_at"):
        if field in changes:
            value = changes[field]
            if field == "title":
                value = (value or "").strip()
            if field == "description":
                value = value or ""
            if field == "due_at":
                _check_aware(value)
            setattr(todo, field, value)
    _validated_save(todo)
    if "tags" in changes:
        _set_tags(todo=todo, names=_normalise_tags(changes["tags"] or []))
    _audit("todo.updated", todo=todo, fields=changes)
    return todo


def todo_complete(*, todo: Todo) -> Todo:
    # Completing twice keeps the first completion time: it is when the work was done.
    if todo.completed_at is None:
        with transaction.atomic():
            todo.completed_at = timezone.now()
            todo.save(update_fields=["completed_at", "updated_at"])
            _audit("todo.completed", todo=todo)
    return todo


def todo_reopen(*, todo: Todo) -> Todo:
    if todo.completed_at is not None:
        with transaction.atomic():
            todo.completed_at = None
            todo.save(update_fields=["completed_at", "updated_at"])
            _audit("todo.reopened", todo=todo)
    return todo


@transaction.atomic
def todo_delete(*, todo: Todo) -> None:
    todo_id = todo.pk
    todo.delete()
    _audit("todo.deleted", todo=todo, todo_id=todo_id)
