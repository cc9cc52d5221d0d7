"""Counters for doors that have no trusted user yet (sign-up, failed bearer tokens, password checks).

The `limits` library's moving window, in the same storage as the tool rate limits (Redis when
configured: the check-and-count is one atomic script, shared by every process), under its own
key prefix so the two can be reset separately.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from apps.core.errors import RateLimited, ServiceUnavailable

KEY_PREFIX = "gw-throttle"


@lru_cache(maxsize=8)
def limits_storage(storage_url: str, key_prefix: str) -> Storage:
    """One `limits` storage per URL and prefix; Redis errors surface as StorageError, within 2 s."""
    options: dict = {}
    if not storage_url.startswith("memory://"):
        options = {"key_prefix": key_prefix, "wrap_exceptions": True, "socket_timeout": 2, "socket_connect_timeout": 2}
    return storage_from_string(storage_url, **options)


def _store() -> Storage:
    return limits_storage(settings.MCP_RATE_LIMIT_STORAGE_URL, KEY_PREFIX)


@lru_cache(maxsize=64)
def rate_parse(rate: str) -> RateLimitItem:
    return parse(rate)


def _unavailable() -> ServiceUnavailable:
    # Fail closed, as the tool limits do: without the shared counter nobody can tell who is over.
    return ServiceUnavailable("The rate limiter is unavailable; try again shortly.", code="rate_limiter_unavailable")


def throttle_hit(*, rate: str, key: tuple[str, ...], message: str, code: str = "rate_limited") -> None:
    """Count one event under `key`; raise RateLimited (429, Retry-After from the window) when over `rate`."""
    item = rate_parse(rate)
    limiter = MovingWindowRateLimiter(_store())
    try:
        if limiter.hit(item, *key):
            return
        reset_at, _remaining = limiter.get_window_stats(item, *key)
    except StorageError:
        raise _unavailable() from None
    retry_after = max(1, math.ceil(reset_at - time.time()))
    error = RateLimited(message, retry_after=retry_after, details={"limit": str(item), "retry_after": retry_after})
    error.code = code
    raise error


def throttle_retry_after(*, rate: str, key: tuple[str, ...]) -> int | None:
    """Seconds until `key` may count another event under `rate`, or None while it is under the limit."""
    item = rate_parse(rate)
    limiter = MovingWindowRateLimiter(_store())
    try:
        if limiter.test(item, *key):
            return None
        reset_at, _remaining = limiter.get_window_stats(item, *key)
    except StorageError:
        raise _unavailable() from None
    return max(1, math.ceil(reset_at - time.time()))


def throttle_first_in_window(*, window_seconds: int, key: tuple[str, ...]) -> bool:
    """True for the first event under `key` in each fixed window: 'do this once per window' (e.g. audit)."""
    item = rate_parse(f"1/{window_seconds} seconds")
    try:
        return FixedWindowRateLimiter(_store()).hit(item, *key)
    except StorageError:
        # Aggregation is an economy, not a guard: without the store, record rather than stay silent.
        return True


def throttle_reset() -> None:
    """Forget every counter (tests; an operator lifting limits after an incident)."""
    _store().reset()
