"""Per user, per tool rate limits: the `limits` library's moving window.

With Redis the check-and-count is one Lua script on the server, so concurrent calls from any
number of processes can never exceed the limit; without Redis it is per-process memory.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItem
from limits.errors import StorageError
from limits.strategies import MovingWindowRateLimiter

from apps.core.errors import RateLimited, ServiceUnavailable
from apps.core.throttle import limits_storage, rate_parse

KEY_PREFIX = "gw-mcp-rl"


@lru_cache(maxsize=4)
def _limiter(storage_url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(limits_storage(storage_url, KEY_PREFIX))


def limiter() -> MovingWindowRateLimiter:
    return _limiter(settings.MCP_RATE_LIMIT_STORAGE_URL)


def rate_limit_hit(*, user_id: int, tool_name: str, rate: str | None = None) -> None:
    """Count one call; raise RateLimited (with retry_after from the window) when over the limit."""
    item = rate_parse(rate or settings.MCP_RATE_LIMIT_DEFAULT)
    identifiers = ("user", str(user_id), "tool", tool_name)
    active = limiter()
    try:
        if active.hit(item, *identifiers):
            return
        reset_at, _remaining = active.get_window_stats(item, *identifiers)
    except StorageError:
        # Fail closed: without the shared counter nobody can tell whether the caller is over the limit.
        raise ServiceUnavailable(
            "The rate limiter is unavailable; try again shortly.", code="rate_limiter_unavailable"
        ) from None
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimited(
        f"Too many calls to {tool_name!r}: the limit is {item.amount} per {_window_text(item)}.",
        retry_after=retry_after,
        details={"limit": str(item), "retry_after": retry_after},
    )


def _window_text(item: RateLimitItem) -> str:
    granularity = item.GRANULARITY.name
    return granularity if item.multiples == 1 else f"{item.multiples} {granularity}s"


def rate_limit_reset() -> None:
    """Forget every counter (tests; an operator lifting limits after an incident)."""
    limiter().storage.reset()
