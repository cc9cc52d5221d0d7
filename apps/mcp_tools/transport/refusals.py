"""How /mcp refuses: always a JSON-RPC error object (`id: null`), whichever layer says no.

The Streamable HTTP spec lets a refused POST carry "a JSON-RPC error response that has no id". Our
own guards answer that way directly (`refusal`); `JsonRpcRefusals` wraps the whole /mcp app so that
what the SDK still answers in plain text or with an empty body (wrong Content-Type 400, body too
large 413, Not Acceptable 406 on the 2026 path, ...) reaches the client in the same shape, status
and headers kept. `RequestIdCheck` refuses, as Invalid Request, a message whose `id` is not a string
or an integer, which the SDK's 2025 path would otherwise take for a notification (202, no answer).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from mcp.types import INTERNAL_ERROR, INVALID_REQUEST
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.core.edge import body_replayed

MESSAGE_MAX_CHARS = 200
INVALID_ID = "Invalid Request: a request's id must be a string or an integer."
NOT_ONE_OBJECT = "Invalid Request: the body must be one JSON-RPC request or notification object (no batches)."


def refusal(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """An HTTP-level refusal as a JSON-RPC error object about a request whose id is unknown."""
    code = INTERNAL_ERROR if status >= 500 else INVALID_REQUEST
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class JsonRpcRefusals:
    """Rewrite an error answer that is not JSON (plain text, empty) into a JSON-RPC error object."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        parts: list[bytes] = []

        async def send_as_json(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and not _is_json(message.get("headers", [])):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                status = held["status"]
                text = b"".join(parts).decode("utf-8", "replace").strip()[:MESSAGE_MAX_CHARS]
                kept = {
                    name.decode("latin-1"): value.decode("latin-1")
                    for name, value in held.get("headers", [])
                    if name.lower() not in (b"content-type", b"content-length")
                }
                response = refusal(status, text or HTTPStatus(status).phrase, headers=kept)
                await response(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, send_as_json)


# Where RequestIdCheck leaves the decoded JSON-RPC message for the layers inside it (the OAuth step-up),
# so the body is read and parsed once before the SDK; absent for a body that is not JSON.
DECODED_MESSAGE = "gateway.jsonrpc_message"


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()


def request_problem(decoded: Any) -> str | None:
    """Why this decoded POST body is not one JSON-RPC message with a usable id; None when it may go on.

    Bodies that are not JSON at all are the SDK's to refuse (Parse error, -32700).
    """
    if decoded is _NOT_JSON:
        return None
    if not isinstance(decoded, dict):
        return NOT_ONE_OBJECT
    if "id" not in decoded:
        return None  # a notification
    request_id = decoded["id"]
    if isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)):
        return None
    if request_id is None and "error" in decoded and "method" not in decoded:
        return None  # an error response about a message whose id could not be read: JSON-RPC allows null there
    # MCP: "Requests MUST include a string or integer ID ... MUST NOT be null". A float, NaN, object,
    # array or boolean is no id the client could match an answer to.
    return INVALID_ID


class RequestIdCheck:
    """Refuse a POST whose JSON-RPC message is not one object with a string or integer id.

    The edge (apps.core.edge) has already read the whole body within MAX_REQUEST_BYTES, so reading
    it here waits on nothing; the SDK is handed the same bytes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before its body ended: there is no one to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        decoded = _decoded(body)
        problem = request_problem(decoded)
        if problem is not None:
            await refusal(400, problem)(scope, receive, send)
            return
        if decoded is not _NOT_JSON:
            scope[DECODED_MESSAGE] = decoded
        await self.app(scope, body_replayed(body, receive), send)
