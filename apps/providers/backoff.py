"""Retries for one candidate: exponential backoff with full jitter, honouring Retry-After.

Only retryable failures are retried (connection errors, timeouts, 429 rate limits, 5xx, malformed
answers); a refused key, a used-up quota, a bad request or an open breaker are not. Bounded twice:
in attempts, and in total time. A Retry-After that would carry the wait past the time budget ends
the retries at once, so the fallback moves on instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_before_delay
from tenacity.wait import wait_random_exponential

from apps.providers.calls import ProviderFailure

T = TypeVar("T")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderFailure) and exc.retryable


class _WaitHonouringRetryAfter:
    """Full-jitter exponential wait, or the provider's Retry-After when that is longer."""

    def __init__(self) -> None:
        self._jitter = wait_random_exponential(
            multiplier=settings.PROVIDER_RETRY_BASE_SECONDS, max=settings.PROVIDER_RETRY_MAX_WAIT_SECONDS
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._jitter(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ProviderFailure) and exc.retry_after:
            wait = max(wait, float(exc.retry_after))
        return wait


def with_retries(func: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call func, retrying retryable ProviderFailures within the attempt and time budgets; re-raises the last."""
    retrying = Retrying(
        stop=stop_after_attempt(settings.PROVIDER_RETRY_ATTEMPTS)
        | stop_before_delay(settings.PROVIDER_RETRY_TOTAL_SECONDS),
        wait=_WaitHonouringRetryAfter(),
        retry=retry_if_exception(_retryable),
        reraise=True,
        sleep=sleep,
    )
    return retrying(func)
