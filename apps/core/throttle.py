"""Counters for doors that have no trusted user yet (sign-up, failed bearer tokens, password checks),
and "once per window" for aggregated audit events, on the one rate-limit engine (apps.core.limiter).

Each rate in the `limits` notation ("5/hour") is a bucket of that many at once, refilled at that rate
(as the tool limits are), counted in the same Lua round trip, the same Redis and under the same
Redis-down policy (QUOTA_WHEN_REDIS_DOWN: family "account" for the counters, "once" for the
aggregation), and refused with the same error and RateLimit headers as every request limit.
"""

from __future__ import annotations

import hashlib

from apps.core.errors import ServiceUnavailable
from apps.core.limit_reports import rate_limited_error
from apps.core.limiter import Limit, limits_hit, limits_peek, rate_split

ACCOUNT = "account"
ONCE = "once"


def throttle_key(*parts: str) -> tuple[str, ...]:
    """A counting key whose parts may be personal (an email address): digested, never stored as given."""
    return tuple(hashlib.sha256(part.encode()).hexdigest()[:24] for part in parts)


def _limit(*, rate: str, key: tuple[str, ...], family: str = ACCOUNT) -> Limit:
    amount, period = rate_split(rate)
    name, *rest = key
    return Limit(
        family=family,
        name=name,
        key=f"{family}:{name}:{':'.join(rest)}",
        amount=amount,
        period_seconds=period,
        burst=amount,
        source="setting",
    )


def throttle_hit(*, rate: str, key: tuple[str, ...], message: str, code: str = "rate_limited") -> None:
    """Count one event under `key` (its first part names the limit); raise RateLimitExceeded (429, with
    Retry-After and the RateLimit headers) when over `rate`, ServiceUnavailable when the store is away
    and the account family fails closed."""
    decision = limits_hit([_limit(rate=rate, key=key)])
    if not decision.admitted:
        raise rate_limited_error(decision, message=message, code=code)


def throttle_retry_after(*, rate: str, key: tuple[str, ...]) -> int | None:
    """Seconds until `key` may count another event under `rate`, or None while it is under the limit."""
    state = limits_peek([_limit(rate=rate, key=key)]).binding
    return None if state is None or state.admitted else state.retry_after_seconds


def throttle_first_in_window(*, window_seconds: int, key: tuple[str, ...]) -> bool:
    """True for the first event under `key` in each window: 'do this once per window' (e.g. audit)."""
    try:
        return limits_hit([_limit(rate=f"1/{window_seconds} seconds", key=key, family=ONCE)]).admitted
    except ServiceUnavailable:
        # Aggregation is an economy, not a guard: without the store, record rather than stay silent.
        return True
