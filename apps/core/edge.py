"""The ASGI edge: what every HTTP request passes before Django or /mcp sees it.

- A request id, set for the code that serves the request and returned as X-Request-ID.
- One body limit for every path (MAX_REQUEST_BYTES): refused from Content-Length, and by counting
  bytes for a chunked body, with 413 in the error shape before any authentication or parsing.
  Nothing is spooled to disk: the body is held in memory, and at most the limit of it.
- A body deadline (REQUEST_BODY_TIMEOUT_SECONDS): a body that has not arrived in full by then is a 408.
  The app is called only with the whole body in hand, so no request can hold a database connection
  (or anything else) while a client trickles its body in.
- A last shield: an exception that escapes the app before it answered becomes a 503 with Retry-After
  when the database cannot serve, otherwise a generic 500 naming the request id. The detail goes to
  the log only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from apps.core.errors import database_unavailable, database_unavailable_logged, error_body, server_error_body
from apps.core.http_errors import http_status, request_too_large_body
from apps.core.request_id import request_id_new, request_id_set

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


# After an oversized body is refused, read and discard up to this many times the limit before
# answering, so a client still sending gets the 413 rather than a connection reset (closing a socket
# with unread data resets it). Beyond that (a 300 MB upload), answer at once and close.
DRAIN_FACTOR = 4


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], *, close: bool = True) -> None:
        self.status = status
        self.body = body
        self.close = close


class _Disconnected(Exception):
    pass


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            # The ASGI server has already refused a malformed one; be strict anyway.
            if not text.isascii() or not text.isdigit():
                raise _Refused(400, error_body("bad_request", "The Content-Length header is malformed."))
            return int(text)
    return None


async def _body_read(receive: Receive, *, limit: int, timeout: float, declared: int | None) -> bytes:
    """The whole body, or _Refused: 413 past `limit` (counted, whatever Content-Length said), 408 past `timeout`."""
    drain_limit = limit * DRAIN_FACTOR
    if declared is not None and declared > drain_limit:
        raise _Refused(413, request_too_large_body())
    too_large = declared is not None and declared > limit
    body = bytearray()
    received = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise _Disconnected
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    too_large = True
                if not too_large:
                    body += chunk
                elif received > drain_limit:
                    raise _Refused(413, request_too_large_body())
                if not message.get("more_body", False):
                    if too_large:
                        # All of it was read, so the connection can stay open.
                        raise _Refused(413, request_too_large_body(), close=False)
                    return bytes(body)
    except TimeoutError:
        if too_large:
            raise _Refused(413, request_too_large_body()) from None
        raise _Refused(
            408,
            error_body(
                "request_timeout",
                f"The request body did not arrive within {timeout:g} seconds.",
                {"timeout_seconds": timeout},
            ),
        ) from None


async def _respond(send: Send, status: int, body: dict[str, Any], *, headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class Edge:
    """ASGI middleware around the whole application (config/asgi.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_new()
        request_id_set(request_id)
        id_header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)

        try:
            body = await _body_read(
                receive,
                limit=settings.MAX_REQUEST_BODY_BYTES,
                timeout=settings.REQUEST_BODY_TIMEOUT_SECONDS,
                declared=_content_length(scope),
            )
        except _Disconnected:
            return
        except _Refused as refusal:
            # Unless the body was read to its end, the client may still be sending: close rather than read on.
            headers = [(b"connection", b"close")] if refusal.close else []
            await _respond(send_with_id, refusal.status, refusal.body, headers=headers)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            # After the body, the only message left is the disconnect, which apps listen for.
            return await receive()

        try:
            await self.app(scope, replay, send_with_id)
        except Exception as exc:
            if started:
                raise
            if database_unavailable(exc):
                unavailable = database_unavailable_logged(exc)
                await _respond(
                    send_with_id,
                    http_status(unavailable),
                    error_body(unavailable.code, unavailable.message),
                    headers=[(b"retry-after", str(unavailable.retry_after).encode())],
                )
                return
            logger.error(
                "Unhandled error (request %s) %s %s", request_id, scope.get("method"), scope.get("path"), exc_info=exc
            )
            await _respond(send_with_id, 500, server_error_body(), headers=[])
