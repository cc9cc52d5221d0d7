from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import models
from django.utils import timezone

from apps.todos.dates import validate_due_at
from apps.todos.rules import DESCRIPTION_MAX_LENGTH, TAG_MAX_LENGTH, TITLE_MAX_LENGTH, Priority


class Tag(models.Model):
    """A label a user puts on todos; names are per user and stored lower-case."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(
        max_length=TAG_MAX_LENGTH,
        validators=[RegexValidator(r"^[\w][\w\- ]*\Z", "Tags use letters, digits, spaces, '-' and '_'.")],
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="tag_unique_per_owner")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Todo(models.Model):
    """One task of one user. Open while completed_at is empty."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todos")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True, default="", validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)])
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    due_at = models.DateTimeField(null=True, blank=True, validators=[validate_due_at])
    tags = models.ManyToManyField(Tag, blank=True, related_name="todos")
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "completed_at", "due_at"], name="todo_owner_status_due"),
            models.Index(fields=["owner", "-created_at"], name="todo_owner_created"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def status(self) -> str:
        return "completed" if self.completed_at else "open"

    @property
    def is_overdue(self) -> bool:
        return self.completed_at is None and self.due_at is not None and self.due_at < timezone.now()
