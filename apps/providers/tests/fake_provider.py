"""A loopback stand-in for the OpenAI and Anthropic APIs, speaking their wire formats.

GET {base}/v1/models answers a 307 to `redirect_to` when that is set; else, for a key with a
behaviour (`behaviours[key]`, or `behaviour` for every key without one), what that behaviour
says (see BEHAVIOURS); else 200 with a models list for a key in `valid_keys`, 401 with the
provider's error body for any other key. A key in `stall_keys` is not answered in time.
Requests carrying `anthropic-version` get Anthropic's formats, all others OpenAI's.

Every error body quotes the whole key presented (the real services quote part of it in a 401,
an organisation id in a 429), the worst case for anything that relays provider messages.
`requests` logs every request received, so a test can show the SDK made exactly one.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALL_SECONDS = 10

# Behaviours: how the fake answers GET /v1/models instead of 200/401.
RATE_LIMITED = "rate_limited"  # 429 + Retry-After + the provider's rate-limit body (requests per minute)
RATE_LIMITED_TOKENS = "rate_limited_tokens"  # 429, OpenAI's "tokens" flavour (Anthropic: the same rate_limit_error)
SERVER_ERROR = "server_error"  # 500 with the provider's JSON error body
BAD_GATEWAY = "bad_gateway"  # 502 with the provider's JSON error body
UNAVAILABLE = "unavailable"  # 503 with the provider's JSON error body
OVERLOADED = "overloaded"  # 529, Anthropic's overloaded_error (OpenAI-format requests get it in OpenAI's shape)
NOT_JSON = "not_json"  # 200, Content-Type application/json, a body that is not JSON
TRUNCATED_JSON = "truncated_json"  # 200, a models list cut off half-way (Content-Length matches the cut)
WRONG_SHAPE = "wrong_shape"  # 200, JSON object without the list the SDK expects
WRONG_SHAPE_LIST = "wrong_shape_list"  # 200, a bare JSON array
WRONG_SHAPE_DATA = "wrong_shape_data"  # 200, {"data": "<a string>"}: a list field of the wrong type
EMPTY_200 = "empty_200"  # 200 with an empty body
PROXY_HTML = "proxy_html"  # 502 text/html error page from a proxy in front of the provider
CAPTIVE_HTML = "captive_html"  # 200 text/html page (a captive portal or misrouted proxy)
CONNECTION_DROPPED = "connection_dropped"  # headers promise more bytes than are sent, then the socket closes
STALL_BODY = "stall_body"  # 200 headers sent at once, the body never arrives in time

BEHAVIOURS = (
    RATE_LIMITED,
    RATE_LIMITED_TOKENS,
    SERVER_ERROR,
    BAD_GATEWAY,
    UNAVAILABLE,
    OVERLOADED,
    NOT_JSON,
    TRUNCATED_JSON,
    WRONG_SHAPE,
    WRONG_SHAPE_LIST,
    WRONG_SHAPE_DATA,
    EMPTY_200,
    PROXY_HTML,
    CAPTIVE_HTML,
    CONNECTION_DROPPED,
    STALL_BODY,
)

_OPENAI_MODELS = {
    "object": "list",
    "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "system"},
    ],
}
_ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-5",
    "last_id": "claude-sonnet-4-5",
}
_REQUEST_ID = "req_011CFakeRequest"


def _openai_error(message: str, type_: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _anthropic_error(type_: str, message: str) -> dict:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": _REQUEST_ID}


def _rate_limit_body(*, anthropic: bool, key: str, retry_after: str | None, tokens: bool) -> dict:
    if anthropic:
        return _anthropic_error(
            "rate_limit_error",
            f"This request would exceed your organization's rate limit of 50 requests per minute (key {key}). "
            "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers "
            "for current usage.",
        )
    unit, what = (
        ("tokens", "tokens per min (TPM): Limit 30000, Used 30000, Requested 1")
        if tokens
        else (
            "requests",
            "requests per min (RPM): Limit 3, Used 3, Requested 1",
        )
    )
    return _openai_error(
        f"Rate limit reached for gpt-4o-mini in organization org-FAKE for key {key} on {what}. "
        f"Please try again in {retry_after or 20}s. Visit https://platform.openai.com/account/rate-limits "
        "to learn more.",
        unit,
        "rate_limit_exceeded",
    )


def _server_error_body(*, anthropic: bool, status: int, key: str) -> dict:
    if anthropic:
        if status == 529:
            return _anthropic_error("overloaded_error", f"Overloaded (key {key})")
        return _anthropic_error("api_error", f"Internal server error (key {key})")
    messages = {
        500: "The server had an error while processing your request. Sorry about that!",
        502: "Bad gateway.",
        503: "The server is overloaded or not ready yet.",
        529: "The engine is currently overloaded, please try again later.",
    }
    return _openai_error(f"{messages[status]} (key {key})", "server_error")


def _proxy_html(status: int, reason: str, key: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n"
        f"<!-- upstream request: GET /v1/models authorization: Bearer {key} -->\r\n"
        "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A stalled answer finds its client gone (it timed out, as intended); nothing to report.
        return


class FakeProvider:
    def __init__(self) -> None:
        self.valid_keys: set[str] = set()
        self.stall_keys: set[str] = set()
        self.behaviours: dict[str, str] = {}
        self.behaviour: str | None = None
        # The Retry-After header of a 429 (seconds or an HTTP date), or None to send none.
        self.retry_after: str | None = "17"
        self.redirect_to: str | None = None
        self.requests: list[dict] = []
        self.release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.origin

    def behaviour_for(self, key: str) -> str | None:
        return self.behaviours.get(key, self.behaviour)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                return

            def _send_bytes(
                self,
                status: int,
                payload: bytes,
                content_type: str = "application/json",
                extra: dict | None = None,
                content_length: int | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload) if content_length is None else content_length))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _send(self, status: int, body: dict | list, extra: dict | None = None) -> None:
                self._send_bytes(status, json.dumps(body).encode(), extra=extra)

            def _behave(self, behaviour: str, *, anthropic: bool, key: str) -> None:
                models = _ANTHROPIC_MODELS if anthropic else _OPENAI_MODELS
                ids = {"request-id": _REQUEST_ID} if anthropic else {"x-request-id": _REQUEST_ID}
                if behaviour in (RATE_LIMITED, RATE_LIMITED_TOKENS):
                    headers = dict(ids)
                    if fake.retry_after is not None:
                        headers["retry-after"] = fake.retry_after
                    if anthropic:
                        headers["anthropic-ratelimit-requests-limit"] = "50"
                        headers["anthropic-ratelimit-requests-remaining"] = "0"
                    else:
                        headers["x-ratelimit-limit-requests"] = "3"
                        headers["x-ratelimit-remaining-requests"] = "0"
                        headers["x-ratelimit-reset-requests"] = f"{fake.retry_after or 20}s"
                    body = _rate_limit_body(
                        anthropic=anthropic, key=key, retry_after=fake.retry_after, tokens=behaviour != RATE_LIMITED
                    )
                    self._send(429, body, headers)
                elif behaviour in (SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE, OVERLOADED):
                    status = {SERVER_ERROR: 500, BAD_GATEWAY: 502, UNAVAILABLE: 503, OVERLOADED: 529}[behaviour]
                    self._send(status, _server_error_body(anthropic=anthropic, status=status, key=key), ids)
                elif behaviour == NOT_JSON:
                    self._send_bytes(200, f"upstream said: key {key} ok".encode(), extra=ids)
                elif behaviour == TRUNCATED_JSON:
                    whole = json.dumps(models).encode()
                    self._send_bytes(200, whole[: len(whole) // 2], extra=ids)
                elif behaviour == WRONG_SHAPE:
                    self._send(200, {"models": models["data"], "note": f"key {key}"}, ids)
                elif behaviour == WRONG_SHAPE_LIST:
                    self._send(200, models["data"], ids)
                elif behaviour == WRONG_SHAPE_DATA:
                    self._send(200, {"object": "list", "data": f"key {key}"}, ids)
                elif behaviour == EMPTY_200:
                    self._send_bytes(200, b"", extra=ids)
                elif behaviour == PROXY_HTML:
                    self._send_bytes(502, _proxy_html(502, "Bad Gateway", key), "text/html")
                elif behaviour == CAPTIVE_HTML:
                    self._send_bytes(200, _proxy_html(200, "Sign in to the network", key), "text/html; charset=utf-8")
                elif behaviour == CONNECTION_DROPPED:
                    whole = json.dumps(models).encode()
                    self._send_bytes(200, whole[:20], extra=ids, content_length=len(whole))
                    self.close_connection = True
                elif behaviour == STALL_BODY:
                    whole = json.dumps(models).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(whole)))
                    self.end_headers()
                    self.wfile.flush()
                    fake.release.wait(STALL_SECONDS)
                    self.wfile.write(whole)
                else:
                    raise ValueError(f"unknown behaviour {behaviour!r}")

            def do_GET(self) -> None:
                anthropic = "anthropic-version" in self.headers
                # Anthropic accepts x-api-key or (as its current SDK sends) a bearer token.
                key = self.headers.get("x-api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
                fake.requests.append({"path": self.path, "provider": "anthropic" if anthropic else "openai"})
                if not self.path.startswith("/v1/models"):
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                if fake.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", fake.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if key in fake.stall_keys:
                    fake.release.wait(STALL_SECONDS)
                behaviour = fake.behaviour_for(key)
                if behaviour is not None:
                    self._behave(behaviour, anthropic=anthropic, key=key)
                    return
                if key in fake.valid_keys:
                    self._send(200, _ANTHROPIC_MODELS if anthropic else _OPENAI_MODELS)
                    return
                if anthropic:
                    self._send(
                        401,
                        _anthropic_error("authentication_error", f"invalid x-api-key {key}"),
                        {"request-id": _REQUEST_ID},
                    )
                else:
                    self._send(
                        401,
                        _openai_error(
                            f"Incorrect API key provided: {key}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.",
                            "invalid_request_error",
                            "invalid_api_key",
                        ),
                    )

        return Handler

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def fake_provider_running():
    fake = FakeProvider()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
