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


def _enter(request: HttpRequest) -> Any:
    return request_context_update(
        client_address=client_address(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        door=door_for_path(request.path),
        actor_id=None,
        actor_label="",
        token_id=None,
        invocation_id="",
    )


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
        token = _enter(request)
        try:
            return self.get_response(request)
        finally:
            request_context_reset(token)

    async def _acall(self, request: HttpRequest) -> Any:
        token = _enter(request)
        try:
            return await self.get_response(request)
        finally:
            request_context_reset(token)
