"""A loopback stand-in for the OpenAI and Anthropic APIs, speaking their wire formats.

GET {base}/v1/models answers a 307 to `redirect_to` when that is set, else 200 with a models
list for a key in `valid_keys`, 401 with the provider's error body for any other key, and does
not answer in time for a key in `stall_keys`.
Requests carrying `anthropic-version` get Anthropic's formats, all others OpenAI's. The 401
message quotes the whole key presented (the real services quote part of it), the worst case for
anything that relays provider messages.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALL_SECONDS = 10


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A stalled answer finds its client gone (it timed out, as intended); nothing to report.
        return


class FakeProvider:
    def __init__(self) -> None:
        self.valid_keys: set[str] = set()
        self.stall_keys: set[str] = set()
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

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                return

            def _send(self, status: int, body: dict, extra: dict | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

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
                if key in fake.valid_keys:
                    if anthropic:
                        self._send(
                            200,
                            {
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
                            },
                        )
                    else:
                        self._send(
                            200,
                            {
                                "object": "list",
                                "data": [
                                    {
                                        "id": "gpt-4o-mini",
                                        "object": "model",
                                        "created": 1721172741,
                                        "owned_by": "system",
                                    },
                                    {"id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "system"},
                                ],
                            },
                        )
                    return
                if anthropic:
                    self._send(
                        401,
                        {
                            "type": "error",
                            "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"},
                            "request_id": "req_011CFakeRequest",
                        },
                        {"request-id": "req_011CFakeRequest"},
                    )
                else:
                    self._send(
                        401,
                        {
                            "error": {
                                "message": f"Incorrect API key provided: {key}. You can find your API key at "
                                "https://platform.openai.com/account/api-keys.",
                                "type": "invalid_request_error",
                                "param": None,
                                "code": "invalid_api_key",
                            }
                        },
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
