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

# The one list of doors an operation can come through (AuditEvent.door), with what each one is. The
# request context, the pipeline, the audit filters (API and activity page) and the docs use this.
DOOR_DESCRIPTIONS: dict[str, str] = {
    "rest": "the REST API under /api/",
    "mcp": "MCP over Streamable HTTP at /mcp",
    "stdio": "MCP over stdio (manage.py mcp_stdio)",
    "chat": "a tool the chat's model called",
    "web": 'the pages (sign-in, settings, chat, "Try a tool")',
    "admin": "the Django admin under /admin/",
    "job": "a Celery job",
    "cli": "a management command",
    "system": "anything else the service does by itself",
}
DOORS = tuple(DOOR_DESCRIPTIONS)

# A tool call's transport (ToolCall.transport) and the door it is. A transport names how the call
# arrived more finely than the door (MCP over HTTP or over stdio).
DOOR_BY_TRANSPORT: dict[str, str] = {
    "rest": "rest",
    "mcp-http": "mcp",
    "mcp-stdio": "stdio",
    "chat": "chat",
    "web": "web",
}


def door_for_transport(transport: str) -> str:
    """The door of a tool call's transport; a door's own name stands for itself, anything else
    (a bench, a test harness) is the service acting by itself."""
    if transport in DOOR_BY_TRANSPORT:
        return DOOR_BY_TRANSPORT[transport]
    return transport if transport in DOOR_DESCRIPTIONS else "system"


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
    """The door of an HTTP request: /mcp, the admin, the REST API, or else the pages."""
    if path == "/mcp" or path.startswith("/mcp/"):
        return "mcp"
    if path.startswith("/admin/"):
        return "admin"
    if path == "/api" or path.startswith("/api/"):
        return "rest"
    return "web"
