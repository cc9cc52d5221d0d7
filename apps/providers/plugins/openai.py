"""OpenAI, over the official `openai` SDK: Chat Completions with function tools.

The OpenAI-compatible provider (openai_compatible.py) speaks this same wire format to a server the
user names, so the wire functions here are shared with it.
"""

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
    status_failure,
    tool_arguments,
    validation_timeout,
)

QUOTA_MARKERS = ("insufficient_quota", "billing_hard_limit_reached")

if TYPE_CHECKING:
    pass


def _sdk() -> ModuleType:
    """The official SDK, imported at the first call: it costs about a second of CPU that most processes
    (Celery beat, the stdio server, a web worker nobody asks for AI) never need."""
    import openai

    return openai


def wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
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


def parse(document: Any, *, provider: str, model: str) -> CompletionResponse:
    choice = document["choices"][0]
    message = choice["message"]
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise Malformed("content is not text")
    calls = tuple(
        ToolCallRequest(
            id=str(call["id"]),
            name=str(call["function"]["name"]),
            arguments=tool_arguments(call["function"]["arguments"]),
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


def complete(candidate: Candidate, request: CompletionRequest, http_client: httpx2.Client) -> CompletionResponse:
    options: dict[str, Any] = {
        "model": candidate.route.model,
        "messages": wire_messages(request.messages),
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
    with _sdk().OpenAI(
        api_key=candidate.api_key,
        base_url=candidate.route.base_url,
        max_retries=0,
        timeout=call_timeout(),
        http_client=http_client,
    ) as client:
        body = client.chat.completions.with_raw_response.create(**options).http_response.content
    # The SDK's parsing is not trusted with the body (see adapters.py): a proxy's page must not pass.
    return parse(json.loads(body), provider=candidate.route.provider, model=candidate.route.model)


def models_list(*, api_key: str, base_url: str, http_client: httpx2.Client) -> ModelsList:
    with _sdk().OpenAI(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=validation_timeout(), http_client=http_client
    ) as client:
        response = client.models.with_raw_response.list().http_response
        return ModelsList(response.status_code, models_count(response.content))


def failure_of(exc: BaseException) -> SdkFailure | None:
    openai_sdk = sys.modules.get("openai")
    if openai_sdk is None:  # never called in this process: the exception cannot be the SDK's
        return None
    if isinstance(exc, openai_sdk.APIStatusError):
        quota = any(marker in error_markers(exc.body) for marker in QUOTA_MARKERS)
        return status_failure(exc.status_code, headers=exc.response.headers, quota=quota)
    if isinstance(exc, openai_sdk.APITimeoutError):
        return SdkFailure(TIMEOUT)
    if isinstance(exc, openai_sdk.APIConnectionError):
        return SdkFailure(CONNECTION)
    return None


PROVIDER = ProviderSpec(
    name="openai",
    display_name="OpenAI",
    order=10,
    features=("chat", "tools", "streaming", "structured_output", "embeddings", "models_list"),
    key_format=KeyFormat(
        prefixes=("sk-proj-", "sk-svcacct-", "sk-"),
        alphabet=TOKEN_ALPHABET,
        alphabet_description="letters, digits, '-' and '_'",
        min_length=40,
        max_length=300,
        description="A project key (sk-proj-...), service account key (sk-svcacct-...) or legacy key (sk-...).",
        refused_prefixes=(
            ("sk-admin-", "This is an OpenAI admin key; store a project key (sk-proj-...) instead."),
            ("sk-ant-", "This looks like an Anthropic key; choose the anthropic provider."),
        ),
    ),
    docs_url="https://platform.openai.com/docs/api-reference",
    keys_url="https://platform.openai.com/api-keys",
    public_base_url="https://api.openai.com/v1",
    base_url_setting="OPENAI_BASE_URL",
    default_model_setting="OPENAI_DEFAULT_MODEL",
    default_model="gpt-4o-mini",
    models_list=models_list,
    complete=complete,
    failure_of=failure_of,
    mask_prefixes=("sk-proj-", "sk-svcacct-", "sk-"),
    prices=prices(
        "public list price at seeding (openai.com/api/pricing)",
        dt.date(2025, 1, 1),
        [
            ("gpt-4o", "2.50", "10.00"),
            ("gpt-4o-mini", "0.15", "0.60"),
            ("gpt-4.1", "2.00", "8.00"),
            ("gpt-4.1-mini", "0.40", "1.60"),
            ("gpt-4.1-nano", "0.10", "0.40"),
            ("o4-mini", "1.10", "4.40"),
        ],
    ),
)
