"""The one request and response shape the product uses for every provider, and how a call fails.

The provider modules (plugins/) translate these to and from their own wire formats; nothing
above this layer sees a provider's own format. A `Candidate` carries a decrypted key for one call:
its repr never shows the key, and it is never stored, cached or logged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Why a call to one candidate failed. The fallback runner decides from the kind whether to retry,
# move on, mark the key, or stop.
RETRYABLE = "retryable"  # connection error, timeout, 429 rate limit, 5xx, malformed answer
QUOTA = "quota"  # 429 insufficient quota: the account is out of credit; another key may not be
KEY_REFUSED = "key_refused"  # 401/403: the key is invalid or revoked at the provider
BAD_REQUEST = "bad_request"  # 400/404/422: our request is wrong for this model; retrying will not help
EGRESS_REFUSED = "egress_refused"  # the base URL is not one the gateway may send a key to
BREAKER_OPEN = "breaker_open"  # the provider's circuit breaker is open; not called at all


@dataclass(frozen=True)
class ToolDefinition:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One turn: role is system, user, assistant (maybe with tool calls) or tool (a tool's result)."""

    role: str
    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True)
class CompletionRequest:
    messages: tuple[Message, ...]
    tools: tuple[ToolDefinition, ...] = ()
    max_tokens: int = 1024
    temperature: float = 0.0

    def digest(self) -> str:
        """A digest of the normalised request (what a cached answer is keyed by, with the route).

        Runs of whitespace count as one space, and leading/trailing whitespace not at all: a prompt
        retyped with another line break is the same question.
        """
        normalised = asdict(self)
        for message in normalised["messages"]:
            message["content"] = " ".join(message["content"].split())
        canonical = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True)
class CompletionResponse:
    provider: str
    model: str
    text: str
    tool_calls: tuple[ToolCallRequest, ...]
    usage: Usage
    finish_reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompletionResponse:
        return cls(
            provider=data["provider"],
            model=data["model"],
            text=data["text"],
            tool_calls=tuple(ToolCallRequest(**call) for call in data["tool_calls"]),
            usage=Usage(**data["usage"]),
            finish_reason=data["finish_reason"],
        )


@dataclass(frozen=True)
class Route:
    """Where a call goes, without any secret: provider, base URL and model."""

    provider: str
    base_url: str
    model: str


@dataclass(frozen=True)
class Candidate:
    """One usable key with its route, decrypted for the call about to be made."""

    route: Route
    key_id: int
    key_label: str
    api_key: str = field(repr=False)

    def __reduce__(self):  # never pickled into a cache, a task or a session by accident
        raise TypeError("A Candidate holds a decrypted key and cannot be serialised.")


class ProviderFailure(Exception):
    """A call that did not give a usable answer. `message` is our own wording, never the provider's."""

    def __init__(
        self, kind: str, message: str, *, status_code: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind == RETRYABLE

    @property
    def counts_against_provider(self) -> bool:
        """Whether the breaker counts it: the provider misbehaved (not one account, not our request)."""
        return self.kind == RETRYABLE

    def __repr__(self) -> str:
        return f"ProviderFailure({self.kind!r}, status={self.status_code})"
