"""Django middleware: the request context for requests that did not come through the ASGI edge
(the test client), reset afterwards so nothing leaks into the next request. Sync and async capable,
so it adds no thread hop under ASGI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest

from apps.core.client_address import client_address
from apps.core.request_context import door_for_path, request_context_reset, request_context_update
from apps.core.request_id import SCOPE_KEY, request_id_new, request_id_reset, request_id_set


def _enter(request: HttpRequest) -> tuple[Any, Any]:
    # Through the ASGI edge the id is already set (and sent back as X-Request-ID); the test client
    # and other callers that skip the edge get a fresh one per request.
    scope = getattr(request, "scope", None) or {}
    request_id = request_id_set(scope.get(SCOPE_KEY) or request_id_new())
    return request_id, request_context_update(
        client_address=client_address(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        door=door_for_path(request.path),
        actor_id=None,
        actor_label="",
        token_id=None,
        invocation_id="",
    )


def _leave(tokens: tuple[Any, Any]) -> None:
    request_id_reset(tokens[0])
    request_context_reset(tokens[1])


class RequestContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        tokens = _enter(request)
        try:
            return self.get_response(request)
        finally:
            _leave(tokens)

    async def _acall(self, request: HttpRequest) -> Any:
        tokens = _enter(request)
        try:
            return await self.get_response(request)
        finally:
            _leave(tokens)
