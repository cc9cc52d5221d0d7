"""Domain errors: plain Python, with no web framework in sight.

Services raise DomainError subclasses: a stable `code`, a `message` for people, `details` for
programs, and a `kind` that says what went wrong in words every door understands. Each door maps
the kind once: REST to an HTTP status (apps.core.http_errors), MCP to a tool error or JSON-RPC
error (apps.mcp_tools.transport.server). The wire shape is {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError

from apps.core.request_id import request_id_current

logger = logging.getLogger(__name__)

# The kinds of failure, one per way a caller should react.
INVALID = "invalid"  # the input is wrong; fix it and retry
UNAUTHENTICATED = "unauthenticated"  # no valid credential
FORBIDDEN = "forbidden"  # the caller may not do this
NOT_FOUND = "not_found"
CONFLICT = "conflict"  # the state does not allow it now
UNPROCESSABLE = "unprocessable"  # well-formed, but cannot be acted on
LIMITED = "limited"  # too many requests; wait retry_after seconds
UNAVAILABLE = "unavailable"  # a dependency is down; retry later
KINDS = (INVALID, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, LIMITED, UNAVAILABLE)


class DomainError(Exception):
    """Base for errors a service raises on purpose."""

    kind = INVALID
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}
        if code:
            self.code = code


class InvalidInput(DomainError):
    # The one code for bad input at every door (REST serializers use it too); a more precise code
    # (e.g. arguments_too_large, invalid_date) only where a client can act on the difference.
    kind = INVALID
    code = "validation_error"


class Unauthenticated(DomainError):
    """The credential is missing, malformed, expired or revoked."""

    kind = UNAUTHENTICATED
    code = "not_authenticated"


class NotFound(DomainError):
    kind = NOT_FOUND
    code = "not_found"


class Forbidden(DomainError):
    kind = FORBIDDEN
    code = "forbidden"


class Conflict(DomainError):
    kind = CONFLICT
    code = "conflict"


class Unprocessable(DomainError):
    """Well-formed input that cannot be acted on, e.g. a key the provider rejects."""

    kind = UNPROCESSABLE
    code = "unprocessable"


class RateLimited(DomainError):
    kind = LIMITED
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None, code: str | None = None) -> None:
        super().__init__(message, details=details, code=code)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(DomainError):
    kind = UNAVAILABLE
    code = "unavailable"

    def __init__(
        self, message: str, *, details: Any = None, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, details=details, code=code)
        # Optional: sent as Retry-After when known (e.g. a provider's own hint), omitted otherwise.
        self.retry_after = None if retry_after is None else max(1, int(retry_after))


# Seconds a client is asked to wait when the database cannot serve it (down, or every pooled connection busy).
DATABASE_RETRY_AFTER_SECONDS = 2


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot serve requests right now, rather than a bug.

    Operational errors: no connection (refused, terminated, pool timeout: psycopg_pool's PoolTimeout
    is a psycopg OperationalError, which Django re-raises as its own), and the transient conditions
    PostgreSQL reports the same way (serialization failures, cancelled statements), all retryable.
    """
    if isinstance(exc, DjangoOperationalError | DjangoInterfaceError):
        return True
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def database_unavailable_error() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The service is temporarily unavailable; try again shortly.",
        code="service_unavailable",
        retry_after=DATABASE_RETRY_AFTER_SECONDS,
    )


def database_unavailable_logged(exc: BaseException) -> ServiceUnavailable:
    # The kind and PostgreSQL's text (no credentials in it) for operators; the client gets the generic 503.
    logger.warning("database unavailable (request %s): %s: %s", request_id_current(), type(exc).__name__, exc)
    return database_unavailable_error()


def server_error_body() -> dict[str, Any]:
    """The generic answer to an unexpected error: no exception text, a request id to find the log line."""
    request_id = request_id_current()
    return error_body(
        "server_error",
        f"The server failed to handle this request (request id {request_id}).",
        {"request_id": request_id},
    )


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}
