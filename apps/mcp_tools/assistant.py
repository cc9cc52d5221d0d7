"""One call to the user's AI providers, as the AI tools and the chat loop make it.

preferences -> answer cache (L1, L2) -> the fallback chain over the user's keys (decrypted one at a
time by the vault), each attempt admitted by apps.quotas before (rate, budgets) and recorded in its
usage ledger after -> answer cache. A cached answer is recorded at cost 0. When no provider answers
the result is offline: the reason, the providers tried and when to retry, or a cached answer
where one exists. The caller's own bearer token is never part of any of this.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.core.errors import InvalidInput, Unprocessable
from apps.core.request_context import request_context_current
from apps.keys.services import provider_candidates, provider_key_refused
from apps.mcp_tools.pipeline.cache import cache_group_version_key
from apps.providers.answer_cache import answer_cached, answer_key, answer_lookup, answer_store, answer_versions
from apps.providers.calls import (
    KEY_REFUSED,
    QUOTA,
    Candidate,
    CompletionRequest,
    CompletionResponse,
    ProviderFailure,
    Route,
)
from apps.providers.fallback import completion_with_fallback
from apps.providers.registry import PROVIDERS
from apps.providers.services import ai_preferences_get
from apps.quotas.provider_calls import (
    ProviderCallAdmission,
    provider_call_admit,
    provider_call_record,
    provider_quota_exhausted,
)


@dataclass
class AssistantAnswer:
    response: CompletionResponse | None
    cached: bool = False
    offline: bool = False
    offline_reason: str = ""
    providers_tried: list[str] = field(default_factory=list)
    retry_after: int | None = None
    notices: list[str] = field(default_factory=list)
    # (asked, allowed) when a budget lowered the answer's max_tokens to what it had left.
    capped: tuple[int, int] | None = None

    def as_result(self) -> dict[str, Any]:
        """The fields every AI tool result carries."""
        response = self.response
        result: dict[str, Any] = {
            "text": response.text if response else "",
            "provider": response.provider if response else None,
            "model": response.model if response else None,
            "usage": response.usage.as_dict() if response else {"input_tokens": 0, "output_tokens": 0},
            "offline": self.offline,
            "answer_cached": self.cached,
        }
        if self.offline:
            result["offline_reason"] = self.offline_reason
            result["providers_tried"] = self.providers_tried
            result["retry_after"] = self.retry_after
        if self.capped is not None:
            result["max_tokens_capped"] = {"asked": self.capped[0], "capped_to": self.capped[1]}
        if self.notices:
            result["notices"] = self.notices
        return result


def _routes(*, user: Any, provider: str | None, model: str | None) -> tuple[list[str], dict[str, str]]:
    preferences = ai_preferences_get(user=user)
    if provider:
        if provider not in PROVIDERS:
            raise InvalidInput("Unknown provider.", details={"provider": [f"Must be one of: {', '.join(PROVIDERS)}."]})
        order = [provider]
    else:
        order = list(preferences.provider_order)
    models = {name: preferences.model_for(name) for name in order}
    if model:
        models = {name: model for name in order} if provider else {**models, order[0]: model}
    return order, {name: value for name, value in models.items() if value}


def input_tokens_estimate(request: CompletionRequest) -> int:
    """What the provider will count as input, before it says: settled with its real count after the call.

    Four characters a token (the usual figure), plus the few tokens each message's role and separators
    cost and the offered tools' schemas, which providers count as input too.
    """
    characters = sum(
        len(message.content) + sum(len(json.dumps(call.arguments)) + len(call.name) for call in message.tool_calls)
        for message in request.messages
    )
    characters += sum(len(t.name) + len(t.description) + len(json.dumps(t.input_schema)) for t in request.tools)
    return characters // 4 + 4 * len(request.messages) + 1


class _QuotaMetering:
    """Budgets and the usage ledger (apps.quotas) around every provider attempt of the chain."""

    def __init__(self, *, user: Any, door: str, tool_name: str, answer_keys: Sequence[str] = ()) -> None:
        self.user, self.door, self.tool_name = user, door, tool_name
        self.answer_keys = list(answer_keys)
        # The last admitted attempt's (asked, allowed) max_tokens when a budget capped it: a successful
        # attempt ends the chain, so after an answer it is the answer's.
        self.capped: tuple[int, int] | None = None

    def admit(
        self, candidate: Candidate, request: CompletionRequest
    ) -> tuple[ProviderCallAdmission, CompletionRequest]:
        admission = provider_call_admit(
            user=self.user,
            provider=candidate.route.provider,
            model=candidate.route.model,
            input_tokens=input_tokens_estimate(request),
            max_output_tokens=request.max_tokens,
            # The user's own keys for this question: a refusal mentions a cached answer only if one is there.
            cached_answer=lambda: answer_cached(self.answer_keys),
        )
        self.capped = None
        if admission.capped:
            self.capped = (request.max_tokens, admission.max_output_tokens)
            request = dataclasses.replace(request, max_tokens=admission.max_output_tokens)
        return admission, request

    def record(
        self,
        candidate: Candidate,
        admission: ProviderCallAdmission | None,
        *,
        response: CompletionResponse | None,
        failure: ProviderFailure | None,
        latency_ms: float,
    ) -> None:
        if failure is not None and failure.kind == QUOTA:
            provider_quota_exhausted(user=self.user, provider=candidate.route.provider)
        provider_call_record(
            user=self.user,
            provider=candidate.route.provider,
            model=candidate.route.model,
            admission=admission,
            input_tokens=response.usage.input_tokens if response else 0,
            output_tokens=response.usage.output_tokens if response else 0,
            latency_ms=round(latency_ms, 3),
            cached=False,
            outcome="ok" if failure is None else failure.kind,
            door=self.door,
            tool_name=self.tool_name,
        )


def _cached_record(*, user: Any, response: CompletionResponse, door: str, tool_name: str) -> None:
    """A cached answer spends nothing, but is in the ledger (at cost 0) like every answer."""
    provider_call_record(
        user=user,
        provider=response.provider,
        model=response.model[:100],
        admission=None,
        input_tokens=0,
        output_tokens=0,
        latency_ms=0,
        cached=True,
        outcome="ok",
        door=door,
        tool_name=tool_name,
    )


def assistant_complete(
    *,
    user: Any,
    request: CompletionRequest,
    tool_name: str,
    provider: str | None = None,
    model: str | None = None,
    cache_groups: Sequence[str] = (),
    cacheable: bool = True,
    door: str | None = None,
) -> AssistantAnswer:
    """Ask the user's providers; `cache_groups` name the data (e.g. todos) the answer depends on.

    `door` defaults to the one the request came through (an AI tool: the pipeline's transport).
    """
    door = door or request_context_current().door
    order, models = _routes(user=user, provider=provider, model=model)
    routes = [Route(provider=name, base_url="", model=models[name]) for name in order if name in models]
    cacheable = cacheable and request.temperature == 0 and not request.tools
    keys: list[str] = []
    if cacheable:
        extra = [cache_group_version_key(user_id=user.pk, group=group) for group in cache_groups]
        versions = answer_versions(user_id=user.pk, extra_keys=extra)
        if versions:
            keys = [answer_key(scope=f"user:{user.pk}", route=r, versions=versions, request=request) for r in routes]
            hit = answer_lookup(keys)
            if hit is not None:
                _cached_record(user=user, response=hit.response, door=door, tool_name=tool_name)
                return AssistantAnswer(response=hit.response, cached=True)
    if settings.AI_OFFLINE:
        return AssistantAnswer(
            response=None, offline=True, offline_reason="AI calls are switched off on this server (AI_OFFLINE)."
        )
    notices: list[str] = []

    def on_failure(candidate: Candidate, failure: ProviderFailure) -> None:
        if failure.kind == KEY_REFUSED:
            notices.append(provider_key_refused(key_id=candidate.key_id, status_code=failure.status_code))

    metering = _QuotaMetering(user=user, door=door, tool_name=tool_name, answer_keys=keys)
    try:
        result = completion_with_fallback(
            request=request,
            candidates=provider_candidates(owner=user, order=order, models=models),
            actor=user,
            on_failure=on_failure,
            metering=metering,
        )
    except ProviderFailure as failure:  # a bad request: the next provider would refuse it too
        raise Unprocessable(failure.message, code="provider_refused_request") from None
    if result.response is None:
        return AssistantAnswer(
            response=None,
            offline=True,
            offline_reason=result.offline_reason(),
            providers_tried=result.providers_tried,
            retry_after=result.retry_after,
            notices=[n for n in notices if n],
        )
    response = result.response
    capped = metering.capped
    if capped is not None:
        notices.append(
            f"The answer was limited to {capped[1]} output tokens (asked: {capped[0]}): that is what your "
            "budget has left this period, so it may be cut short."
        )
    elif keys:  # a capped answer may be cut short: it is not the answer to the question as asked
        route = next(r for r in routes if r.provider == response.provider)
        answer_store(keys[routes.index(route)], response)
    return AssistantAnswer(response=response, notices=[n for n in notices if n], capped=capped)
