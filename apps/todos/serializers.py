import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.core.serializers import StrictSerializerMixin
from apps.todos.dates import validate_due_at
from apps.todos.filters import ORDERINGS
from apps.todos.models import Todo
from apps.todos.representation import TODO_FIELDS, todo_as_dict
from apps.todos.rules import DESCRIPTION_MAX_LENGTH, TAG_MAX_LENGTH, TAGS_PER_TODO_MAX, TITLE_MAX_LENGTH, Priority


class TodoSerializer(serializers.ModelSerializer):
    """Declares the REST shape for the OpenAPI schema; the values come from the one representation."""

    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    status = serializers.CharField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Todo
        fields = list(TODO_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: Todo) -> dict[str, Any]:
        # The request's zone (the user's, activated per request), written as DRF writes times.
        return todo_as_dict(instance, tz=timezone.get_current_timezone(), zulu=True)


class DueAtField(serializers.DateTimeField):
    """A due date in the supported range, judged on the offset the client wrote (DRF would convert it first)."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_aware(value):
            validate_due_at(value)
        value = super().enforce_timezone(value)
        validate_due_at(value)
        return value


class TodoWriteSerializer(StrictSerializerMixin, serializers.Serializer):
    """Input for create (all required fields) and update (partial=True)."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, trim_whitespace=False
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    due_at = DueAtField(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH), max_length=TAGS_PER_TODO_MAX, required=False
    )


class TodoListQuerySerializer(serializers.Serializer):
    """Only documents the list filters for the OpenAPI schema; TodoFilter validates them."""

    status = serializers.ChoiceField(choices=["open", "completed", "all"], required=False)
    priority = serializers.MultipleChoiceField(choices=Priority.choices, required=False)
    due_before = serializers.DateTimeField(required=False)
    due_after = serializers.DateTimeField(required=False)
    overdue = serializers.BooleanField(required=False)
    tag = serializers.CharField(required=False, max_length=40)
    search = serializers.CharField(required=False, max_length=200)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False)
    # page and page_size: the pagination documents them (apps.core.pagination), as on every paged list.


class TodoOverviewSerializer(serializers.Serializer):
    """Documents GET /api/todos/overview (selectors.todo_overview): counts in the user's own day."""

    total = serializers.IntegerField()
    open = serializers.IntegerField()
    completed = serializers.IntegerField()
    overdue = serializers.IntegerField()
    due_today = serializers.IntegerField()
    urgent_open = serializers.IntegerField()
    high_open = serializers.IntegerField()
    timezone = serializers.CharField()
    today = serializers.DateField()
