"""The id of the request being served, for error messages and log lines that must point at each other.

The ASGI edge (apps.core.edge) sets it for every HTTP request and sends it back as X-Request-ID;
asgiref copies context variables into the threads that run sync code, so views and services see it.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token

# Where the edge leaves the id in the ASGI scope, so the Django middleware keeps the same one.
SCOPE_KEY = "gateway.request_id"
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_set(value: str) -> Token[str | None]:
    return _current.set(value)


def request_id_reset(token: Token[str | None]) -> None:
    _current.reset(token)


def request_id_current() -> str:
    """The current request's id; outside a request (stdio, a task) a fresh one, so an error still has one."""
    value = _current.get()
    if value is None:
        value = request_id_new()
        _current.set(value)
    return value
