"""Adapters over the official SDKs: one CompletionRequest in, one CompletionResponse out.

SDK retries are off (retries are ours, in backoff.py, bounded and breaker-aware) and every call goes
through the address guard's HTTP client. The SDKs' own parsing is not trusted with the body: we
read the raw response and check its shape, so a proxy's HTML page, a truncated body or JSON of
another shape is a failure with our own wording, and never reaches a caller. The provider's error
text is never used either: it can quote the key.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx2
from django.conf import settings

from apps.providers import egress
from apps.providers.calls import (
    BAD_REQUEST,
    EGRESS_REFUSED,
    KEY_REFUSED,
    QUOTA,
    RETRYABLE,
    Candidate,
    CompletionRequest,
    CompletionResponse,
    Message,
    ProviderFailure,
    ToolCallRequest,
    Usage,
)
from apps.providers.registry import ANTHROPIC, provider_spec_get
from apps.providers.sdks import anthropic_sdk, openai_sdk, sdk_errors
from apps.providers.validation import retry_after_seconds

logger = logging.getLogger(__name__)

_QUOTA_MARKERS = ("insufficient_quota", "billing_hard_limit_reached", "credit balance")


class _Malformed(Exception):
    """The body was not the provider's format."""


def _timeout() -> httpx2.Timeout:
    return httpx2.Timeout(
        float(settings.PROVIDER_CALL_TIMEOUT_SECONDS), connect=float(settings.PROVIDER_CONNECT_TIMEOUT_SECONDS)
    )


# --- OpenAI (and OpenAI-compatible servers) -------------------------------------------------------------


def _openai_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        raise _Malformed("tool arguments are not JSON") from None
    if not isinstance(value, dict):
        raise _Malformed("tool arguments are not an object")
    return value


def _openai_parse(document: Any, *, provider: str, model: str) -> CompletionResponse:
    choice = document["choices"][0]
    message = choice["message"]
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise _Malformed("content is not text")
    calls = tuple(
        ToolCallRequest(
            id=str(call["id"]), name=str(call["function"]["name"]), arguments=_arguments(call["function"]["arguments"])
        )
        for call in message.get("tool_calls") or []
    )
    usage = document.get("usage") or {}
    return CompletionResponse(
        provider=provider,
        model=str(document.get("model") or model),
        text=text,
        tool_calls=calls,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        finish_reason=str(choice.get("finish_reason") or ""),
    )


def _openai_call(candidate: Candidate, request: CompletionRequest, http_client: httpx2.Client) -> bytes:
    options: dict[str, Any] = {
        "model": candidate.route.model,
        "messages": _openai_messages(request.messages),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.tools:
        options["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in request.tools
        ]
    with openai_sdk().OpenAI(
        api_key=candidate.api_key,
        base_url=candidate.route.base_url,
        max_retries=0,
        timeout=_timeout(),
        http_client=http_client,
    ) as client:
        return client.chat.completions.with_raw_response.create(**options).http_response.content


# --- Anthropic --------------------------------------------------------------------------------------------


def _anthropic_messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
            # Anthropic wants all results of one turn's tool calls in one user message.
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": message.role, "content": message.content})
    return system, out


def _anthropic_parse(document: Any, *, provider: str, model: str) -> CompletionResponse:
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for block in document["content"]:
        if block["type"] == "text":
            if not isinstance(block["text"], str):
                raise _Malformed("text is not text")
            texts.append(block["text"])
        elif block["type"] == "tool_use":
            calls.append(
                ToolCallRequest(id=str(block["id"]), name=str(block["name"]), arguments=_arguments(block["input"]))
            )
    usage = document.get("usage") or {}
    return CompletionResponse(
        provider=provider,
        model=str(document.get("model") or model),
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
        finish_reason=str(document.get("stop_reason") or ""),
    )


def _anthropic_call(candidate: Candidate, request: CompletionRequest, http_client: httpx2.Client) -> bytes:
    system, messages = _anthropic_messages(request.messages)
    # The current Messages API takes no temperature; its answers to an identical request are what
    # the cache treats as deterministic (CompletionRequest.temperature 0 is the product's flag).
    options: dict[str, Any] = {"model": candidate.route.model, "messages": messages, "max_tokens": request.max_tokens}
    if system:
        options["system"] = system
    if request.tools:
        options["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools
        ]
    with anthropic_sdk().Anthropic(
        api_key=candidate.api_key,
        base_url=candidate.route.base_url,
        max_retries=0,
        timeout=_timeout(),
        http_client=http_client,
    ) as client:
        return client.messages.with_raw_response.create(**options).http_response.content


# --- failures ---------------------------------------------------------------------------------------------


def _error_markers(body: Any) -> str:
    """The error's type and code fields only (never its message, which can quote the key), lower-cased."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return " ".join(str(error.get(name) or "") for name in ("type", "code")).lower()


def _status_failure(exc: Any, name: str) -> ProviderFailure:  # either SDK's APIStatusError
    status = exc.status_code
    if status in (401, 403):
        return ProviderFailure(KEY_REFUSED, f"{name} refused the key (HTTP {status}).", status_code=status)
    markers = _error_markers(exc.body)
    message_text = (
        str((exc.body or {}).get("error", {}).get("message", "")).lower() if isinstance(exc.body, dict) else ""
    )
    if any(marker in markers or (marker == "credit balance" and marker in message_text) for marker in _QUOTA_MARKERS):
        return ProviderFailure(
            QUOTA, f"{name} says this account's quota is used up (HTTP {status}).", status_code=status
        )
    if status in (408, 409, 429) or status >= 500:
        retry_after = retry_after_seconds(exc.response.headers)
        what = "is rate-limiting this key" if status == 429 else "had a server-side problem"
        return ProviderFailure(
            RETRYABLE, f"{name} {what} (HTTP {status}).", status_code=status, retry_after=retry_after
        )
    return ProviderFailure(BAD_REQUEST, f"{name} refused the request (HTTP {status}).", status_code=status)


def completion_call(candidate: Candidate, request: CompletionRequest) -> CompletionResponse:
    """One attempt at one candidate. Raises ProviderFailure for every way the call can go wrong."""
    spec = provider_spec_get(candidate.route.provider)
    name = spec.display_name
    is_anthropic = candidate.route.provider == ANTHROPIC
    call = _anthropic_call if is_anthropic else _openai_call
    parse = _anthropic_parse if is_anthropic else _openai_parse
    try:
        with egress.guarded_http_client(timeout=float(settings.PROVIDER_CALL_TIMEOUT_SECONDS)) as http_client:
            body = call(candidate, request, http_client)
    except sdk_errors().status as exc:
        raise _status_failure(exc, name) from None
    except sdk_errors().timeout:
        raise ProviderFailure(RETRYABLE, f"{name} did not answer in time.") from None
    except sdk_errors().connection as exc:
        refused = egress.refused_by_egress(exc)
        if refused:
            raise ProviderFailure(EGRESS_REFUSED, refused) from None
        raise ProviderFailure(RETRYABLE, f"Could not connect to {name}.") from None
    except Exception as exc:  # the SDKs parse with pydantic; its messages include the input
        logger.warning("The call to %s failed unexpectedly (%s)", name, type(exc).__name__)
        raise ProviderFailure(RETRYABLE, f"The call to {name} failed unexpectedly.") from None
    try:
        return parse(json.loads(body), provider=candidate.route.provider, model=candidate.route.model)
    except (_Malformed, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # Logged as the type only: messages of parse errors include the body, which can quote the key.
        logger.warning("%s answered in a format that is not its API (%s)", name, type(exc).__name__)
        raise ProviderFailure(RETRYABLE, f"{name} answered, but not in the format of its API.") from None
