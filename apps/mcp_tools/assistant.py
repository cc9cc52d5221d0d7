"""One call to the user's AI providers, as the AI tools and the chat loop make it.

preferences -> answer cache (L1, L2) -> budget check -> the fallback chain over the user's keys
(decrypted one at a time by the vault) -> usage record -> answer cache. When no provider answers
the result is offline: the reason, the providers tried and when to retry, or a cached answer
where one exists. The caller's own bearer token is never part of any of this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.core.errors import InvalidInput, Unprocessable
from apps.keys.services import provider_candidates, provider_key_refused
from apps.mcp_tools.pipeline.cache import cache_group_version_key
from apps.providers.answer_cache import answer_key, answer_lookup, answer_store, answer_versions
from apps.providers.calls import KEY_REFUSED, Candidate, CompletionRequest, CompletionResponse, ProviderFailure, Route
from apps.providers.fallback import completion_with_fallback
from apps.providers.registry import PROVIDERS
from apps.providers.services import ai_preferences_get


@dataclass
class AssistantAnswer:
    response: CompletionResponse | None
    cached: bool = False
    offline: bool = False
    offline_reason: str = ""
    providers_tried: list[str] = field(default_factory=list)
    retry_after: int | None = None
    notices: list[str] = field(default_factory=list)

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


def _budget_check(*, user: Any) -> None:
    """The quotas seam before a provider call (issue 11's budget check lands here, in this one place)."""


def _usage_record(*, user: Any, response: CompletionResponse, tool_name: str) -> None:
    """The quotas seam after a provider call (issue 11's usage ledger lands here, in this one place)."""


def assistant_complete(
    *,
    user: Any,
    request: CompletionRequest,
    tool_name: str,
    provider: str | None = None,
    model: str | None = None,
    cache_groups: Sequence[str] = (),
    cacheable: bool = True,
) -> AssistantAnswer:
    """Ask the user's providers; `cache_groups` name the data (e.g. todos) the answer depends on."""
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
                return AssistantAnswer(response=hit.response, cached=True)
    if settings.AI_OFFLINE:
        return AssistantAnswer(
            response=None, offline=True, offline_reason="AI calls are switched off on this server (AI_OFFLINE)."
        )
    _budget_check(user=user)
    notices: list[str] = []

    def on_failure(candidate: Candidate, failure: ProviderFailure) -> None:
        if failure.kind == KEY_REFUSED:
            notices.append(provider_key_refused(key_id=candidate.key_id, status_code=failure.status_code))

    try:
        result = completion_with_fallback(
            request=request,
            candidates=provider_candidates(owner=user, order=order, models=models),
            actor=user,
            on_failure=on_failure,
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
    _usage_record(user=user, response=response, tool_name=tool_name)
    if keys:
        route = next(r for r in routes if r.provider == response.provider)
        answer_store(keys[routes.index(route)], response)
    return AssistantAnswer(response=response, notices=[n for n in notices if n])
