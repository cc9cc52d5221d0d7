"""Who is asking, from where and through which door: facts every audit event carries.

The edges set them once (the ASGI edge for HTTP, the MCP stdio server, Celery's task prerun, the
management commands, the pipeline for the principal and the invocation), and services read them
here instead of threading six arguments through every call. asgiref copies context variables into
the threads that run sync code, so a view or a service sees what its edge set.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass

# The doors an operation can come through (AuditEvent.door).
DOORS = ("rest", "mcp", "stdio", "chat", "admin", "job", "cli", "system")


@dataclass(frozen=True)
class RequestContext:
    client_address: str = ""
    user_agent: str = ""
    door: str = "system"
    # The caller once authenticated: the user acting (an operator acting for someone is the actor),
    # and the personal access token used, if any.
    actor_id: int | None = None
    actor_label: str = ""
    token_id: int | None = None
    # "oauth" when the caller came with an OAuth access token (the audit trail's actor type).
    actor_type: str = ""
    # The tool call under way, so the todo change a tool makes points at the tool event.
    invocation_id: str = ""


_current: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())  # noqa: B039


def request_context_current() -> RequestContext:
    return _current.get()


def request_context_update(**fields: object) -> Token[RequestContext]:
    """Replace some fields for the rest of this context; returns the token to undo it."""
    return _current.set(dataclasses.replace(_current.get(), **fields))


def request_context_reset(token: Token[RequestContext]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def request_context(**fields: object) -> Iterator[RequestContext]:
    """The fields set for the duration of a block (a task, a command, a tool call)."""
    token = request_context_update(**fields)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def door_for_path(path: str) -> str:
    if path == "/mcp" or path.startswith("/mcp/"):
        return "mcp"
    if path.startswith("/admin/"):
        return "admin"
    return "rest"
