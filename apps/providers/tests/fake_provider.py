"""A loopback stand-in for the OpenAI, Anthropic and Gemini APIs, speaking their wire formats.

POST {base}/v1/chat/completions (OpenAI), POST {base}/v1/messages (Anthropic) and POST
{base}/v1beta/models/<model>:generateContent (Gemini) answer in the providers' wire formats (text,
tool or function calls, usage): see `_reply` for the rules the fake model follows.
A behaviour applies to them as to the models list, plus the calling-side faults below; `queue`
holds behaviours used up one per request before the normal ones (fail twice, then answer);
`latency` delays every answer (the benchmark's 200 ms provider).

GET {base}/v1/models answers a 307 to `redirect_to` when that is set; else, for a key with a
behaviour (`behaviours[key]`, or `behaviour` for every key without one), what that behaviour
says (see BEHAVIOURS); else 200 with a models list for a key in `valid_keys`, 401 with the
provider's error body for any other key. A key in `stall_keys` is not answered in time.
Requests carrying `anthropic-version` get Anthropic's formats, those carrying `x-goog-api-key`
Gemini's (errors as google.rpc.Status with RetryInfo / ErrorInfo details, models under "models";
GET {base}/v1beta/models lists them), all others OpenAI's.

Every error body quotes the whole key presented (the real services quote part of it in a 401,
an organisation id in a 429), the worst case for anything that relays provider messages.
`requests` logs every request received, so a test can show the SDK made exactly one.
"""

from __future__ import annotations

import json
import threading
import time
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
INSUFFICIENT_QUOTA = "insufficient_quota"  # 429 meaning the account is out of credit (no Retry-After)
UNAUTHORIZED = "unauthorized"  # 401 even for a valid key (a key revoked at the provider)
BAD_REQUEST = "bad_request"  # 400 invalid_request_error
SLOW = "slow"  # the answer comes after `slow_seconds` (past the caller's timeout)

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
    INSUFFICIENT_QUOTA,
    UNAUTHORIZED,
    BAD_REQUEST,
    SLOW,
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
_GEMINI_MODELS = {
    "models": [
        {
            "name": "models/gemini-2.5-flash",
            "version": "001",
            "displayName": "Gemini 2.5 Flash",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }
    ],
    "nextPageToken": "",
}
_REQUEST_ID = "req_011CFakeRequest"
_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE"}


def _gemini_error(code: int, message: str, details: list | None = None, status: str | None = None) -> dict:
    """Google's error shape (google.rpc.Status as JSON)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status or _GEMINI_STATUS.get(code, "UNAVAILABLE"),
            "details": details or [],
        }
    }


def _gemini_key_invalid(key: str) -> dict:
    # What the real API answers for an unknown key: 400, with the reason in an ErrorInfo detail.
    return _gemini_error(
        400,
        f"API key not valid. Please pass a valid API key. ({key})",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


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


def _text_of(content) -> str:
    """The text of an OpenAI or Anthropic message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content", "")))
    return "\n".join(parts)


def _gemini_turn(body: dict) -> tuple[set, bool, str]:
    """(tool names on offer, whether the last turn is function results, its text) of a generateContent body."""
    tools = {d.get("name") for tool in body.get("tools") or [] for d in tool.get("functionDeclarations") or []}
    contents = body.get("contents") or []
    parts = (contents[-1] if contents else {}).get("parts") or []
    results = [p["functionResponse"] for p in parts if "functionResponse" in p]
    if results:
        return tools, True, "\n".join(str((r.get("response") or {}).get("result", "")) for r in results)
    return tools, False, "\n".join(str(p.get("text", "")) for p in parts if "text" in p)


def _reply(body: dict, *, anthropic: bool, gemini: bool = False) -> tuple[str, list[tuple[str, dict]]]:
    """The fake model: (text, tool calls).

    After a tool result it answers "Done: <the result>"; asked "create todo: X" with a create_todos
    tool on offer it calls that tool; told "call tool: NAME {json}" it calls NAME with those arguments
    whether or not it was offered (a model gone wrong, or a prompt injection); otherwise it echoes
    the last user message.
    """
    if gemini:
        tools, is_tool_result, text = _gemini_turn(body)
    else:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        tools = {(tool.get("function") or tool).get("name") for tool in body.get("tools") or []}
        is_tool_result = last.get("role") == "tool" or (
            anthropic
            and isinstance(last.get("content"), list)
            and any(block.get("type") == "tool_result" for block in last["content"])
        )
        text = _text_of(last.get("content"))
    if is_tool_result:
        return f"Done: {text[:200]}", []
    if "Extract todos from:\n" in text:
        lines = [line.strip("-* ").strip() for line in text.split("Extract todos from:\n", 1)[1].splitlines()]
        return json.dumps([{"title": line, "priority": "medium"} for line in lines if line]), []
    if text.lower().startswith("call tool:"):
        name, _, args = text.split(":", 1)[1].strip().partition(" ")
        return "", [(name, json.loads(args or "{}"))]
    if text.lower().startswith("create todo:") and "create_todos" in tools:
        return "", [("create_todos", {"items": [{"title": text.split(":", 1)[1].strip()}]})]
    return f"echo: {text}", []


def _within_max_tokens(body: dict, text: str) -> tuple[str, bool]:
    """The text cut to the request's max_tokens (the fake counts len // 4 + 1 tokens), as a real model
    stops there; True when it was cut."""
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or len(text) // 4 + 1 <= limit:
        return text, False
    return text[: max(limit - 1, 0) * 4], True


def _openai_completion(body: dict, text: str, calls: list[tuple[str, dict]], counter: int) -> dict:
    text, cut = _within_max_tokens(body, text)
    message: dict = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{counter}_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for n, (name, args) in enumerate(calls)
        ]
    prompt = len(json.dumps(body.get("messages") or [])) // 4 + 1
    return {
        "id": f"chatcmpl-{counter}",
        "object": "chat.completion",
        "created": 1764000000,
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": "length" if cut else "tool_calls" if calls else "stop"}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": len(text) // 4 + 1, "total_tokens": prompt + 1},
    }


def _anthropic_message(body: dict, text: str, calls: list[tuple[str, dict]], counter: int) -> dict:
    text, cut = _within_max_tokens(body, text)
    content: list[dict] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{counter}_{n}", "name": name, "input": args}
        for n, (name, args) in enumerate(calls)
    ]
    return {
        "id": f"msg_{counter}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-haiku-4-5"),
        "content": content,
        "stop_reason": "max_tokens" if cut else "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": len(json.dumps(body.get("messages") or [])) // 4 + 1,
            "output_tokens": len(text) // 4 + 1,
        },
    }


def _gemini_response(body: dict, model: str, text: str, calls: list[tuple[str, dict]], counter: int) -> dict:
    parts: list[dict] = [{"text": text}] if text else []
    parts += [
        {"functionCall": {"id": f"fc_{counter}_{n}", "name": name, "args": args}}
        for n, (name, args) in enumerate(calls)
    ]
    prompt = len(json.dumps(body.get("contents") or [])) // 4 + 1
    output = len(text) // 4 + 1
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": output,
            "totalTokenCount": prompt + output,
        },
        "modelVersion": model,
        "responseId": f"resp-{counter}",
    }


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
        # Behaviours used up one per model call (chat completions, messages) before the normal rules.
        self.queue: list[str | None] = []
        self.latency: float = 0.0
        self.slow_seconds: float = 3.0
        self.release = threading.Event()
        self._lock = threading.Lock()
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

    @property
    def gemini_base_url(self) -> str:
        return self.origin

    def behaviour_for(self, key: str) -> str | None:
        return self.behaviours.get(key, self.behaviour)

    def model_calls(self, *, key: str | None = None) -> list[dict]:
        """The chat-completion and messages requests received (optionally for one key)."""
        return [r for r in list(self.requests) if r.get("method") == "POST" and (key is None or r.get("key") == key)]

    def _next_queued(self) -> tuple[bool, str | None]:
        with self._lock:
            if self.queue:
                return True, self.queue.pop(0)
        return False, None

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

            def _behave_gemini(self, behaviour: str, *, key: str) -> bool:
                """The behaviours whose Gemini form differs from the others'; False: use the shared form."""
                if behaviour in (RATE_LIMITED, RATE_LIMITED_TOKENS):
                    details = [
                        {
                            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [
                                {
                                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                                }
                            ],
                        }
                    ]
                    if fake.retry_after is not None and fake.retry_after.isdigit():
                        # Gemini says when to come back in RetryInfo, not in a Retry-After header.
                        details.append(
                            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fake.retry_after}s"}
                        )
                    self._send(429, _gemini_error(429, f"Resource has been exhausted (key {key}).", details))
                elif behaviour in (SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE, OVERLOADED):
                    status = {SERVER_ERROR: 500, BAD_GATEWAY: 502, UNAVAILABLE: 503, OVERLOADED: 503}[behaviour]
                    self._send(status, _gemini_error(status, f"The model is overloaded (key {key})."))
                elif behaviour == INSUFFICIENT_QUOTA:
                    self._send(
                        429,
                        _gemini_error(429, f"You exceeded your current quota (key {key}).", [], "RESOURCE_EXHAUSTED"),
                    )
                elif behaviour == UNAUTHORIZED:
                    self._send(400, _gemini_key_invalid(key))
                elif behaviour == BAD_REQUEST:
                    self._send(400, _gemini_error(400, f"Invalid JSON payload received (key {key})."))
                else:
                    return False
                return True

            def _behave(self, behaviour: str, *, anthropic: bool, key: str, gemini: bool = False) -> None:
                if gemini and self._behave_gemini(behaviour, key=key):
                    return
                models = _GEMINI_MODELS if gemini else _ANTHROPIC_MODELS if anthropic else _OPENAI_MODELS
                listing = models.get("data") or models.get("models")
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
                    self._send(200, {"items": listing, "note": f"key {key}"}, ids)
                elif behaviour == WRONG_SHAPE_LIST:
                    self._send(200, listing, ids)
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
                elif behaviour == INSUFFICIENT_QUOTA:
                    if anthropic:
                        body = _anthropic_error("rate_limit_error", f"Your credit balance is too low (key {key}).")
                        body["error"]["type"] = "insufficient_quota"
                    else:
                        body = _openai_error(
                            f"You exceeded your current quota, please check your plan and billing details (key {key}).",
                            "insufficient_quota",
                            "insufficient_quota",
                        )
                    self._send(429, body, ids)
                elif behaviour == UNAUTHORIZED:
                    self._send(
                        401,
                        _anthropic_error("authentication_error", f"invalid x-api-key {key}")
                        if anthropic
                        else _openai_error(
                            f"Incorrect API key provided: {key}.", "invalid_request_error", "invalid_api_key"
                        ),
                        ids,
                    )
                elif behaviour == BAD_REQUEST:
                    self._send(
                        400,
                        _anthropic_error("invalid_request_error", f"messages: bad (key {key})")
                        if anthropic
                        else _openai_error(f"Invalid request (key {key}).", "invalid_request_error"),
                        ids,
                    )
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

            def do_POST(self) -> None:
                anthropic = "anthropic-version" in self.headers
                gemini = "x-goog-api-key" in self.headers
                key = (
                    self.headers.get("x-api-key")
                    or self.headers.get("x-goog-api-key")
                    or self.headers.get("Authorization", "").removeprefix("Bearer ")
                )
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with fake._lock:
                    counter = len(fake.requests)
                    fake.requests.append(
                        {
                            "method": "POST",
                            "path": self.path,
                            "provider": "gemini" if gemini else "anthropic" if anthropic else "openai",
                            "key": key,
                            "body": body,
                        }
                    )
                model = self.path.removeprefix("/v1beta/models/").removesuffix(":generateContent")
                is_gemini_call = (
                    gemini and self.path.startswith("/v1beta/models/") and self.path.endswith(":generateContent")
                )
                if not is_gemini_call and self.path.rstrip("/") not in ("/v1/chat/completions", "/v1/messages"):
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                if fake.latency:
                    time.sleep(fake.latency)
                queued, behaviour = fake._next_queued()
                if not queued:
                    behaviour = fake.behaviour_for(key)
                if behaviour == SLOW:
                    fake.release.wait(fake.slow_seconds)
                    behaviour = None
                if behaviour is not None:
                    self._behave(behaviour, anthropic=anthropic, key=key, gemini=gemini)
                    return
                if key not in fake.valid_keys:
                    self._behave(UNAUTHORIZED, anthropic=anthropic, key=key, gemini=gemini)
                    return
                text, calls = _reply(body, anthropic=anthropic, gemini=gemini)
                if gemini:
                    self._send(200, _gemini_response(body, model, text, calls, counter))
                elif anthropic:
                    self._send(200, _anthropic_message(body, text, calls, counter), {"request-id": _REQUEST_ID})
                else:
                    self._send(200, _openai_completion(body, text, calls, counter), {"x-request-id": _REQUEST_ID})

            def do_GET(self) -> None:
                anthropic = "anthropic-version" in self.headers
                gemini = "x-goog-api-key" in self.headers
                # Anthropic accepts x-api-key or (as its current SDK sends) a bearer token.
                key = (
                    self.headers.get("x-api-key")
                    or self.headers.get("x-goog-api-key")
                    or self.headers.get("Authorization", "").removeprefix("Bearer ")
                )
                provider = "gemini" if gemini else "anthropic" if anthropic else "openai"
                fake.requests.append({"path": self.path, "provider": provider})
                if not self.path.startswith("/v1beta/models" if gemini else "/v1/models"):
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
                    self._behave(behaviour, anthropic=anthropic, key=key, gemini=gemini)
                    return
                if key in fake.valid_keys:
                    self._send(200, _GEMINI_MODELS if gemini else _ANTHROPIC_MODELS if anthropic else _OPENAI_MODELS)
                    return
                if gemini:
                    self._send(400, _gemini_key_invalid(key))
                elif anthropic:
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
