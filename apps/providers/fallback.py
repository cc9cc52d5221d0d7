"""The fallback chain: try each candidate (a key with its route) in the user's order until one answers.

Candidates come in already ordered and are decrypted one at a time by the caller's iterator (the
vault, above this layer), so a key is in memory only while its own call runs. For each candidate:
skip it if its breaker is open, else call it with retries (backoff.py) through the breaker
(breaker.py). A refused key, a spent quota or a provider that stays down moves on to the next key,
then the next provider. A bad request stops the chain: the next provider would refuse it too.
No database connection is held while a provider is waited on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.audit.services import audit_event_record
from apps.core.database import connections_release
from apps.providers.adapters import completion_call
from apps.providers.backoff import with_retries
from apps.providers.breaker import breaker_call, breaker_for, open_for_seconds
from apps.providers.calls import (
    BAD_REQUEST,
    BREAKER_OPEN,
    Candidate,
    CompletionRequest,
    CompletionResponse,
    ProviderFailure,
)
from apps.providers.registry import provider_names_sentence, provider_spec_get


@dataclass(frozen=True)
class Attempt:
    provider: str
    key_label: str
    outcome: str  # "ok" or a failure kind (apps.providers.calls)
    message: str = ""
    status_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "key_label": self.key_label,
            "outcome": self.outcome,
            "message": self.message,
            "status_code": self.status_code,
        }


@dataclass
class FallbackResult:
    response: CompletionResponse | None
    attempts: list[Attempt] = field(default_factory=list)
    retry_after: int | None = None

    @property
    def offline(self) -> bool:
        return self.response is None

    @property
    def providers_tried(self) -> list[str]:
        return list(dict.fromkeys(attempt.provider for attempt in self.attempts))

    def offline_reason(self) -> str:
        if not self.attempts:
            return f"No usable provider key: store a key ({provider_names_sentence()}) to use AI features."
        return " ".join(attempt.message for attempt in self.attempts if attempt.message)


class CallMetering(Protocol):
    """What the layer above counts per call (budgets, the usage ledger): admit before, record after.

    `admit` may raise a DomainError to refuse the call (a spent budget); it runs before the
    provider is waited on, `record` after, with the answer or the failure. It returns its admission
    and the request as admitted, which is what the provider is sent (a budget may lower max_tokens).
    """

    def admit(self, candidate: Candidate, request: CompletionRequest) -> tuple[Any, CompletionRequest]: ...

    def record(
        self,
        candidate: Candidate,
        admission: Any,
        *,
        response: CompletionResponse | None,
        failure: ProviderFailure | None,
        latency_ms: float,
    ) -> None: ...


def _attempt(candidate: Candidate, request: CompletionRequest, metering: CallMetering | None) -> CompletionResponse:
    name = provider_spec_get(candidate.route.provider).display_name
    breaker = breaker_for(candidate.route)
    wait = open_for_seconds(breaker)
    if wait is not None:
        raise ProviderFailure(BREAKER_OPEN, f"{name} failed repeatedly; calls are paused.", retry_after=wait)
    admission = None
    if metering is not None:
        admission, request = metering.admit(candidate, request)
    # Everything the chain needed from the database is done; the wait on the provider holds no connection.
    connections_release()
    started = time.perf_counter()
    try:
        response = with_retries(
            lambda: breaker_call(breaker, lambda: completion_call(candidate, request), display_name=name)
        )
    except ProviderFailure as failure:
        if metering is not None:
            latency = (time.perf_counter() - started) * 1000
            metering.record(candidate, admission, response=None, failure=failure, latency_ms=latency)
        raise
    if metering is not None:
        latency = (time.perf_counter() - started) * 1000
        metering.record(candidate, admission, response=response, failure=None, latency_ms=latency)
    return response


def completion_with_fallback(
    *,
    request: CompletionRequest,
    candidates: Iterable[Candidate],
    actor: Any = None,
    on_failure: Callable[[Candidate, ProviderFailure], None] | None = None,
    metering: CallMetering | None = None,
) -> FallbackResult:
    """The first answer from the candidates in order; offline (response None) when none answers."""
    attempts: list[Attempt] = []
    hints: list[int] = []
    iterator: Iterator[Candidate] = iter(candidates)
    try:
        for candidate in iterator:
            try:
                response = _attempt(candidate, request, metering)
            except ProviderFailure as failure:
                attempts.append(
                    Attempt(
                        candidate.route.provider,
                        candidate.key_label,
                        failure.kind,
                        failure.message,
                        failure.status_code,
                    )
                )
                if failure.retry_after:
                    hints.append(failure.retry_after)
                if on_failure is not None:
                    on_failure(candidate, failure)
                if failure.kind == BAD_REQUEST:
                    raise
                continue
            attempts.append(Attempt(candidate.route.provider, candidate.key_label, "ok"))
            result = FallbackResult(response=response, attempts=attempts)
            break
        else:
            result = FallbackResult(response=None, attempts=attempts, retry_after=min(hints) if hints else None)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    if len(attempts) > 1 or (result.offline and attempts):
        audit_event_record(
            action="provider.fallback",
            actor=actor,
            outcome="failure" if result.offline else "success",
            target_type="provider",
            target_id=result.response.provider if result.response else "",
            data={"attempts": [attempt.as_dict() for attempt in attempts], "offline": result.offline},
        )
    return result
