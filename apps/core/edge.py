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
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from apps.core.client_address import client_address_from_scope
from apps.core.errors import database_unavailable, database_unavailable_logged, error_body, server_error_body
from apps.core.http_errors import http_status, request_too_large_body
from apps.core.request_context import door_for_path, request_context_update
from apps.core.request_id import SCOPE_KEY, request_id_new, request_id_set

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


# After refusing a body the client is still sending, keep reading (and discarding) for up to this
# long before the connection closes: closing a socket with unread data resets it, and a reset can
# destroy the 413 before the client reads it. (nginx calls this a lingering close.)
LINGER_SECONDS = 2.0


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], *, linger: bool = False) -> None:
        self.status = status
        self.body = body
        self.linger = linger


class _Disconnected(Exception):
    pass


def _header(scope: MutableMapping[str, Any], wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == wanted:
            return value.decode("latin-1")
    return ""


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
    """The whole body, or _Refused: 413 past `limit` (declared or counted), 408 past `timeout`."""
    if declared is not None and declared > limit:
        raise _Refused(413, request_too_large_body(), linger=True)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise _Disconnected
                body += message.get("body", b"")
                if len(body) > limit:
                    raise _Refused(413, request_too_large_body(), linger=message.get("more_body", False))
                if not message.get("more_body", False):
                    return bytes(body)
    except TimeoutError:
        raise _Refused(
            408,
            error_body(
                "request_timeout",
                f"The request body did not arrive within {timeout:g} seconds.",
                {"timeout_seconds": timeout},
            ),
        ) from None


async def _linger(receive: Receive) -> None:
    """Discard what the client is still sending, until it stops, goes away, or LINGER_SECONDS pass."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return


async def _refuse(send: Send, receive: Receive, refusal: _Refused) -> None:
    """The refusal with `Connection: close`; when the client is still sending, answer first, then linger."""
    payload = json.dumps(refusal.body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    # The whole answer goes out, but the response stays open while we linger: the ASGI server stops
    # passing the body on once a response is complete.
    await send({"type": "http.response.body", "body": payload, "more_body": refusal.linger})
    if refusal.linger:
        await _linger(receive)
        await send({"type": "http.response.body", "body": b""})


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


def body_replayed(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the whole body, already read, in one message."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        # After the body, the only message left is the disconnect, which apps listen for.
        return await receive()

    return replay


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
        scope[SCOPE_KEY] = request_id
        request_context_update(
            client_address=client_address_from_scope(scope),
            user_agent=_header(scope, b"user-agent")[:255],
            door=door_for_path(scope.get("path", "")),
        )
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
            await _refuse(send_with_id, receive, refusal)
            return

        replay = body_replayed(body, receive)
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
