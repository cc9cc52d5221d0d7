from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.scopes import TODOS_READ, TODOS_WRITE
from apps.core.pagination import PageNumberPagination
from apps.core.timezones import zone_or_utc
from apps.todos import selectors, services
from apps.todos.serializers import (
    TodoListQuerySerializer,
    TodoOverviewSerializer,
    TodoSerializer,
    TodoWriteSerializer,
)

PAGINATION_PARAMS = {"page", "page_size"}


TODO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_view(
    retrieve=extend_schema(parameters=[TODO_ID]),
    update=extend_schema(parameters=[TODO_ID]),
    partial_update=extend_schema(parameters=[TODO_ID]),
    destroy=extend_schema(parameters=[TODO_ID]),
    complete=extend_schema(parameters=[TODO_ID]),
    reopen=extend_schema(parameters=[TODO_ID]),
)
class TodoViewSet(viewsets.ViewSet):
    """The caller's own todos. Another user's todo answers 404, exactly like a missing one."""

    # Personal access tokens need these scopes; a JWT or session carries every scope of the role.
    read_scope = TODOS_READ
    write_scope = TODOS_WRITE
    # list() paginates with it; declared here so the schema shows {count, next, previous, results}.
    pagination_class = PageNumberPagination

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # Naive times in requests, and times in responses, are in the user's own zone.
        timezone.activate(zone_or_utc(request.user.timezone))

    def finalize_response(self, request, response, *args, **kwargs):
        timezone.deactivate()
        return super().finalize_response(request, response, *args, **kwargs)

    def _todo(self, request: Request, pk: str):
        return selectors.todo_get(owner=request.user, todo_id=pk)

    @extend_schema(parameters=[TodoListQuerySerializer], responses={200: TodoSerializer(many=True)})
    def list(self, request: Request) -> Response:
        filters = request.query_params.copy()
        for key in PAGINATION_PARAMS:
            filters.pop(key, None)
        queryset = selectors.todo_list(owner=request.user, filters=filters)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(TodoSerializer(page, many=True).data)

    @extend_schema(request=TodoWriteSerializer, responses={201: TodoSerializer})
    def create(self, request: Request) -> Response:
        serializer = TodoWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        todo = services.todo_create(owner=request.user, **serializer.validated_data)
        return Response(
            TodoSerializer(selectors.todo_get(owner=request.user, todo_id=todo.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses=TodoSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TodoSerializer(self._todo(request, pk)).data)

    def _update(self, request: Request, pk: str, *, partial: bool) -> Response:
        todo = self._todo(request, pk)
        serializer = TodoWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if not partial:
            # PUT replaces the whole todo: anything left out goes back to its default.
            changes = {"description": "", "priority": "medium", "due_at": None, "tags": [], **changes}
        services.todo_update(todo=todo, changes=changes)
        return Response(TodoSerializer(self._todo(request, pk)).data)

    @extend_schema(request=TodoWriteSerializer, responses=TodoSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(request=TodoWriteSerializer, responses=TodoSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.todo_delete(todo=self._todo(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=TodoSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        # The todo was loaded with its tags; completing or reopening changes neither, so no re-read.
        return Response(TodoSerializer(services.todo_complete(todo=self._todo(request, pk))).data)

    @extend_schema(request=None, responses=TodoSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        return Response(TodoSerializer(services.todo_reopen(todo=self._todo(request, pk))).data)

    @extend_schema(responses=TodoOverviewSerializer)
    @action(detail=False, methods=["get"])
    def overview(self, request: Request) -> Response:
        return Response(selectors.todo_overview(owner=request.user))
