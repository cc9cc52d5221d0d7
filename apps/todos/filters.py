"""The one definition of how todos are filtered and ordered, used by REST and the MCP tools."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from apps.todos.dates import validate_due_at
from apps.todos.models import Todo
from apps.todos.rules import PRIORITY_RANK, Priority

ORDERINGS = {
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
    "priority": ("priority_rank", "id"),
    "-priority": ("-priority_rank", "-id"),
    "due": (F("due_at").asc(nulls_last=True), "id"),
    "-due": (F("due_at").desc(nulls_last=True), "-id"),
}
DEFAULT_ORDERING = "-created"
BOOLEAN_VALUES = {"true": True, "false": False, "1": True, "0": False}


def with_priority_rank(queryset: QuerySet[Todo]) -> QuerySet[Todo]:
    return queryset.annotate(
        priority_rank=Case(
            *(When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()),
            output_field=IntegerField(),
        )
    )


class _FilterForm(forms.Form):
    """A filter named with nothing after it (`?tag=`) is refused, not read as "no filter".

    An empty value is no tag, no date, no choice: the client meant something it did not send, and
    an answer for every todo would hide that. Leaving the parameter out is how to filter nothing.
    """

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in self.fields:
            if name not in self.data or self.has_error(name):
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if any(value is None or value == "" for value in values):
                self.add_error(name, "Give a value, or leave the filter out.")
        return cleaned


class TodoFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("completed", "completed"), ("all", "all")], method="filter_status"
    )
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    # The supported range is checked here too: an offset PostgreSQL cannot parse must be a 400, not a 500.
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt", validators=[validate_due_at])
    due_after = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte", validators=[validate_due_at])
    # A ChoiceFilter, not BooleanFilter: "overdue=maybe" must be an error, not silently ignored.
    overdue = django_filters.ChoiceFilter(choices=[(v, v) for v in BOOLEAN_VALUES], method="filter_overdue")
    tag = django_filters.CharFilter(method="filter_tag", max_length=40)
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = django_filters.ChoiceFilter(
        choices=[(key, key) for key in ORDERINGS], method="filter_ordering", empty_label=None
    )

    class Meta:
        model = Todo
        fields: list[str] = []
        form = _FilterForm

    def filter_status(self, queryset: QuerySet[Todo], name: str, value: str) -> QuerySet[Todo]:
        if value == "open":
            return queryset.filter(completed_at__isnull=True)
        if value == "completed":
            return queryset.filter(completed_at__isnull=False)
        return queryset

    def filter_overdue(self, queryset: QuerySet[Todo], name: str, value: str) -> QuerySet[Todo]:
        overdue = Q(completed_at__isnull=True, due_at__lt=timezone.now())
        return queryset.filter(overdue) if BOOLEAN_VALUES[value] else queryset.exclude(overdue)

    def filter_tag(self, queryset: QuerySet[Todo], name: str, value: str) -> QuerySet[Todo]:
        return queryset.filter(tags__name=value.strip().lower())

    def filter_search(self, queryset: QuerySet[Todo], name: str, value: str) -> QuerySet[Todo]:
        query = Q()
        for word in value.split():
            query &= Q(title__icontains=word) | Q(description__icontains=word) | Q(tags__name__iexact=word)
        return queryset.filter(query).distinct()

    def filter_ordering(self, queryset: QuerySet[Todo], name: str, value: str) -> QuerySet[Todo]:
        return queryset.order_by(*ORDERINGS[value or DEFAULT_ORDERING])

    @property
    def qs(self) -> QuerySet[Todo]:
        queryset = super().qs
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by(*ORDERINGS[DEFAULT_ORDERING])
        return queryset
