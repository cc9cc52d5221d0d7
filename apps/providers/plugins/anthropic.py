"""Anthropic, over the official `anthropic` SDK: the Messages API with tool use."""

from __future__ import annotations

import datetime as dt
import json
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx2

from apps.providers.calls import Candidate, CompletionRequest, CompletionResponse, Message, ToolCallRequest, Usage
from apps.providers.plugins.base import (
    CONNECTION,
    TIMEOUT,
    TOKEN_ALPHABET,
    KeyFormat,
    Malformed,
    ModelsList,
    ProviderSpec,
    SdkFailure,
    call_timeout,
    error_markers,
    models_count,
    prices,
    secret_pattern,
    status_failure,
    tool_arguments,
    validation_timeout,
)

if TYPE_CHECKING:
    pass


def _sdk() -> ModuleType:
    """The official SDK, imported at the first call: it costs about a second of CPU that most processes
    (Celery beat, the stdio server, a web worker nobody asks for AI) never need."""
    import anthropic

    return anthropic


def wire_messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
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


def parse(document: Any, *, provider: str, model: str) -> CompletionResponse:
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for block in document["content"]:
        if block["type"] == "text":
            if not isinstance(block["text"], str):
                raise Malformed("text is not text")
            texts.append(block["text"])
        elif block["type"] == "tool_use":
            calls.append(
                ToolCallRequest(id=str(block["id"]), name=str(block["name"]), arguments=tool_arguments(block["input"]))
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


def complete(candidate: Candidate, request: CompletionRequest, http_client: httpx2.Client) -> CompletionResponse:
    system, messages = wire_messages(request.messages)
    # The current Messages API takes no temperature; its answers to an identical request are what
    # the cache treats as deterministic (CompletionRequest.temperature 0 is the product's flag).
    options: dict[str, Any] = {"model": candidate.route.model, "messages": messages, "max_tokens": request.max_tokens}
    if system:
        options["system"] = system
    if request.tools:
        options["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools
        ]
    with _sdk().Anthropic(
        api_key=candidate.api_key,
        base_url=candidate.route.base_url,
        max_retries=0,
        timeout=call_timeout(),
        http_client=http_client,
    ) as client:
        body = client.messages.with_raw_response.create(**options).http_response.content
    return parse(json.loads(body), provider=candidate.route.provider, model=candidate.route.model)


def models_list(*, api_key: str, base_url: str, http_client: httpx2.Client) -> ModelsList:
    with _sdk().Anthropic(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=validation_timeout(), http_client=http_client
    ) as client:
        response = client.models.with_raw_response.list(limit=1).http_response
        return ModelsList(response.status_code, models_count(response.content))


def _out_of_credit(body: Any) -> bool:
    if "insufficient_quota" in error_markers(body):
        return True
    # Anthropic says so only in words; reading the message for this phrase is all that is done with it.
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and "credit balance" in str(error.get("message", "")).lower()


def failure_of(exc: BaseException) -> SdkFailure | None:
    anthropic_sdk = sys.modules.get("anthropic")
    if anthropic_sdk is None:  # never called in this process: the exception cannot be the SDK's
        return None
    if isinstance(exc, anthropic_sdk.APIStatusError):
        return status_failure(exc.status_code, headers=exc.response.headers, quota=_out_of_credit(exc.body))
    if isinstance(exc, anthropic_sdk.APITimeoutError):
        return SdkFailure(TIMEOUT)
    if isinstance(exc, anthropic_sdk.APIConnectionError):
        return SdkFailure(CONNECTION)
    return None


PROVIDER = ProviderSpec(
    name="anthropic",
    display_name="Anthropic",
    order=20,
    features=("chat", "tools", "streaming", "models_list"),
    key_format=KeyFormat(
        prefixes=("sk-ant-api",),
        alphabet=TOKEN_ALPHABET,
        alphabet_description="letters, digits, '-' and '_'",
        min_length=90,
        max_length=250,
        description="An API key from the Anthropic Console (sk-ant-api03-...).",
        refused_prefixes=(
            ("sk-ant-admin", "This is an Anthropic admin key; store an API key (sk-ant-api...) instead."),
            ("sk-ant-oat", "This is an OAuth token, not an API key; create an API key in the Console."),
            ("sk-proj-", "This looks like an OpenAI key; choose the openai provider."),
        ),
    ),
    docs_url="https://docs.anthropic.com/en/api/overview",
    keys_url="https://console.anthropic.com/settings/keys",
    public_base_url="https://api.anthropic.com",
    base_url_setting="ANTHROPIC_BASE_URL",
    default_model_setting="ANTHROPIC_DEFAULT_MODEL",
    default_model="claude-haiku-4-5",
    models_list=models_list,
    complete=complete,
    failure_of=failure_of,
    mask_prefixes=("sk-ant-",),
    # Admin keys and OAuth tokens are refused, but one pasted anywhere must still be masked.
    secret_patterns=(secret_pattern("sk-ant-"),),
    prices=prices(
        "public list price at seeding (anthropic.com/pricing)",
        dt.date(2025, 1, 1),
        [
            ("claude-opus-4-1", "15.00", "75.00"),
            ("claude-sonnet-4-5", "3.00", "15.00"),
            ("claude-sonnet-4-0", "3.00", "15.00"),
            ("claude-3-5-haiku-latest", "0.80", "4.00"),
            ("claude-haiku-4-5", "1.00", "5.00"),
        ],
    ),
)
