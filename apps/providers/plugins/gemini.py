"""Google Gemini, over the official `google-genai` SDK: generateContent with function calling.

The SDK's own retries stay off (no retry options given: one attempt) and its automatic function
calling is disabled: the product runs tools itself, through the one invocation pipeline. The raw
body is asked for (`should_return_http_response`) and read here, like the other providers' bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx2
import pydantic

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
    bounded_retry_after,
    call_timeout,
    prices,
    secret_pattern,
    status_failure,
    tool_arguments,
    validation_timeout,
)

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

API_VERSION = "v1beta"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s\Z")
# ErrorInfo reasons that mean the key itself is refused (Gemini answers 400 for a malformed or unknown key).
_KEY_REASONS = ("API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED")


def _sdk() -> tuple[ModuleType, ModuleType]:
    """google-genai's client and types modules, imported on first use.

    The SDK (with pydantic models for the whole Gemini API) costs about as much start-up time as the
    two other SDKs together; a process that never calls Gemini (a worker, the ASGI server's start,
    `manage.py`) does not pay for it.
    """
    from google import genai
    from google.genai import types

    return genai, types


def _client(*, api_key: str, base_url: str, timeout_seconds: float, http_client: httpx2.Client | None) -> genai.Client:
    genai, types = _sdk()
    options = types.HttpOptions(
        base_url=base_url.rstrip("/") + "/",
        api_version=API_VERSION,
        timeout=int(timeout_seconds * 1000),
        httpx_client=http_client,
    )
    # vertexai=False: the environment (GOOGLE_GENAI_USE_VERTEXAI) must not send a stored key elsewhere.
    return genai.Client(vertexai=False, api_key=api_key, http_options=options)


def _tool_names(messages: tuple[Message, ...]) -> dict[str, str]:
    """Tool call id -> tool name: a functionResponse names its function, our tool messages carry only the id."""
    return {call.id: call.name for message in messages for call in message.tool_calls}


def wire_contents(messages: tuple[Message, ...]) -> tuple[str, list[types.Content]]:
    _genai, types = _sdk()
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    names = _tool_names(messages)
    out: list[types.Content] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            part = types.Part(
                function_response=types.FunctionResponse(
                    id=message.tool_call_id,
                    name=names.get(message.tool_call_id, ""),
                    response={"result": message.content},
                )
            )
            # All results of one turn's calls go back in one user turn, in the order of the calls.
            if out and out[-1].role == "user" and out[-1].parts and out[-1].parts[-1].function_response:
                out[-1].parts.append(part)
            else:
                out.append(types.Content(role="user", parts=[part]))
        elif message.role == "assistant":
            parts = [types.Part(text=message.content)] if message.content else []
            parts += [
                types.Part(function_call=types.FunctionCall(id=c.id, name=c.name, args=c.arguments))
                for c in message.tool_calls
            ]
            out.append(types.Content(role="model", parts=parts))
        else:
            out.append(types.Content(role="user", parts=[types.Part(text=message.content)]))
    return system, out


def parse(document: Any, *, provider: str, model: str) -> CompletionResponse:
    usage = document.get("usageMetadata") or {}
    candidates = document.get("candidates")
    if not candidates and (document.get("promptFeedback") or {}).get("blockReason"):
        # The prompt was blocked: an answer (empty, with the reason), not a failure to retry.
        reason = str(document["promptFeedback"]["blockReason"])
        return CompletionResponse(provider, str(document.get("modelVersion") or model), "", (), Usage(), reason.lower())
    candidate = candidates[0]
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for index, part in enumerate((candidate.get("content") or {}).get("parts") or []):
        if "functionCall" in part:
            call = part["functionCall"]
            calls.append(
                ToolCallRequest(
                    id=str(call.get("id") or f"call_{index}"),
                    name=str(call["name"]),
                    arguments=tool_arguments(call.get("args") or {}),
                )
            )
        elif "text" in part and not part.get("thought"):
            if not isinstance(part["text"], str):
                raise Malformed("text is not text")
            texts.append(part["text"])
    output = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    return CompletionResponse(
        provider=provider,
        model=str(document.get("modelVersion") or model),
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=Usage(int(usage.get("promptTokenCount") or 0), output),
        finish_reason=str(candidate.get("finishReason") or "").lower(),
    )


def complete(candidate: Candidate, request: CompletionRequest, http_client: httpx2.Client) -> CompletionResponse:
    _genai, types = _sdk()
    system, contents = wire_contents(request.messages)
    config = types.GenerateContentConfig(
        max_output_tokens=request.max_tokens,
        temperature=request.temperature,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        should_return_http_response=True,
    )
    if system:
        config.system_instruction = system
    if request.tools:
        config.tools = [
            types.Tool(
                function_declarations=[
                    # parametersJsonSchema takes JSON Schema as our tools declare it (additionalProperties too).
                    types.FunctionDeclaration(
                        name=t.name, description=t.description, parameters_json_schema=t.input_schema
                    )
                    for t in request.tools
                ]
            )
        ]
    client = _client(
        api_key=candidate.api_key,
        base_url=candidate.route.base_url,
        timeout_seconds=call_timeout().read or 30.0,
        http_client=http_client,
    )
    response = client.models.generate_content(model=candidate.route.model, contents=contents, config=config)
    body = response.sdk_http_response.body if response.sdk_http_response is not None else None
    return parse(json.loads(body or ""), provider=candidate.route.provider, model=candidate.route.model)


def models_list(*, api_key: str, base_url: str, http_client: httpx2.Client) -> ModelsList:
    client = _client(api_key=api_key, base_url=base_url, timeout_seconds=validation_timeout(), http_client=http_client)
    try:
        page = client.models.list(config={"page_size": 50}).page
    except (ValueError, TypeError, AttributeError, KeyError, pydantic.ValidationError):
        # The SDK raises for error statuses before it parses, so this was a 2xx whose body is not a models list.
        return ModelsList(200, None)
    if not page or not all(isinstance(model.name, str) and model.name for model in page):
        # A real key sees at least one model; an empty or nameless list says nothing about the key.
        return ModelsList(200, None)
    return ModelsList(200, len(page))


def _details(exc: Any) -> list[dict[str, Any]]:
    error = exc.details.get("error") if isinstance(exc.details, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(details: list[dict[str, Any]]) -> int | None:
    """RetryInfo's retryDelay ("17s", "0.5s") in whole seconds: Gemini says when to come back there."""
    for detail in details:
        if detail.get("@type") == _RETRY_INFO:
            match = _DELAY.match(str(detail.get("retryDelay") or ""))
            if match:
                return bounded_retry_after(float(match.group(1)))
    return None


def failure_of(exc: BaseException) -> SdkFailure | None:
    # Not imported yet means not raised yet: no exception can be of a class nobody has loaded.
    genai_errors = sys.modules.get("google.genai.errors")
    if genai_errors is not None and isinstance(exc, genai_errors.APIError):
        details = _details(exc)
        headers = exc.response.headers if isinstance(exc.response, httpx2.Response) else {}
        key_refused = any(d.get("@type") == _ERROR_INFO and d.get("reason") in _KEY_REASONS for d in details)
        failure = status_failure(int(exc.code), headers=headers, key_refused=key_refused)
        delay = _retry_delay(details)
        if delay is not None and failure.retry_after is None:
            failure = SdkFailure(failure.what, failure.status, delay, failure.key_refused, failure.quota)
        return failure
    if isinstance(exc, httpx2.TimeoutException):
        return SdkFailure(TIMEOUT)
    if isinstance(exc, httpx2.TransportError):
        return SdkFailure(CONNECTION)
    return None


PROVIDER = ProviderSpec(
    name="gemini",
    display_name="Google Gemini",
    order=30,
    features=("chat", "tools", "models_list"),
    key_format=KeyFormat(
        prefixes=("AIza",),
        alphabet=TOKEN_ALPHABET,
        alphabet_description="letters, digits, '-' and '_'",
        min_length=39,
        max_length=64,
        description="An API key from Google AI Studio (AIza..., 39 characters).",
        refused_prefixes=(
            ("sk-", "This looks like an OpenAI or Anthropic key; choose that provider."),
            ("ya29.", "This is a Google OAuth access token, not an API key; create an API key in AI Studio."),
        ),
    ),
    docs_url="https://ai.google.dev/api",
    keys_url="https://aistudio.google.com/apikey",
    public_base_url="https://generativelanguage.googleapis.com",
    base_url_setting="GEMINI_BASE_URL",
    default_model_setting="GEMINI_DEFAULT_MODEL",
    default_model="gemini-2.5-flash",
    models_list=models_list,
    complete=complete,
    failure_of=failure_of,
    mask_prefixes=("AIza",),
    # Google API keys are exactly "AIza" and 35 more characters; a shorter run is not one.
    secret_patterns=(secret_pattern("AIza", min_body=30),),
    prices=prices(
        "public list price (ai.google.dev/gemini-api/docs/pricing, paid tier, prompts up to 200k tokens)",
        dt.date(2025, 6, 17),
        [
            ("gemini-2.5-pro", "1.25", "10.00"),
            ("gemini-2.5-flash", "0.30", "2.50"),
            ("gemini-2.5-flash-lite", "0.10", "0.40"),
            ("gemini-2.0-flash", "0.10", "0.40"),
        ],
    ),
)
