"""How the rate-limit engine's decisions are reported, the same way at every door: the refusal (429
with the limit named and Retry-After), the RateLimit-* headers, and the MCP result's `_meta` entry.

Moved here from apps.quotas.services so that the account throttles (apps.core.throttle), which sit
below quotas, refuse and report exactly as the request limits do.
"""

from __future__ import annotations

from apps.core.errors import DomainError, RateLimited, ServiceUnavailable
from apps.core.limiter import Decision, LimitState


class RateLimitExceeded(RateLimited):
    """A refusal that knows which limits applied, so every door can report them the same way."""

    def __init__(self, message: str, *, retry_after: int, details: dict, decision: Decision) -> None:
        super().__init__(message, retry_after=retry_after, details=details)
        self.decision = decision


def rate_limited_error(decision: Decision, *, message: str | None = None, code: str | None = None) -> RateLimitExceeded:
    """The refusal for a decision that was not admitted; `message`/`code` for doors that say it their own way."""
    state = decision.binding
    assert state is not None and not state.admitted
    limit = state.limit
    message = message or (
        f"Too many requests: the {limit.name} limit is {limit.amount} per {period_text(limit.period_seconds)}"
        f" (burst {limit.burst}); retry in {state.retry_after_seconds} s."
    )
    error = RateLimitExceeded(
        message, retry_after=state.retry_after_seconds, details=state_details(state), decision=decision
    )
    if code:
        error.code = code
    return error


def state_details(state: LimitState) -> dict:
    limit = state.limit
    details = {
        "limit": limit.name,
        "rate": f"{limit.amount}/{period_text(limit.period_seconds)}",
        "burst": limit.burst,
        "remaining": state.remaining,
        "reset": state.reset_seconds,
    }
    if not state.admitted:
        details["retry_after"] = state.retry_after_seconds
    return details


def period_text(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """RateLimit-Limit / -Remaining / -Reset for the binding limit, and RateLimit-Policy naming every limit."""
    state = decision.binding
    if state is None:
        return {}
    policies = ", ".join(
        f'{s.limit.amount};w={s.limit.period_seconds};burst={s.limit.burst};name="{s.limit.name}"'
        for s in decision.states
    )
    return {
        "RateLimit-Limit": str(state.limit.burst),
        "RateLimit-Remaining": str(state.remaining),
        "RateLimit-Reset": str(state.reset_seconds),
        "RateLimit-Policy": policies,
    }


def refusal_headers(error: DomainError) -> dict[str, str]:
    """The headers of a refused response: Retry-After when known, and the limits' RateLimit-* headers
    when the refusal came from the engine (every door's error path adds these)."""
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited | ServiceUnavailable) and error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    decision = getattr(error, "decision", None)
    if isinstance(decision, Decision):
        headers.update(rate_limit_headers(decision))
    return headers


def rate_limit_meta(decision: Decision) -> dict:
    """The RateLimit header figures as an MCP result's `_meta` entry, with every limit named."""
    state = decision.binding
    assert state is not None
    return {
        "limit": state.limit.burst,
        "remaining": state.remaining,
        "reset": state.reset_seconds,
        "name": state.limit.name,
        "retry_after": state.retry_after_seconds or None,
        "policies": [state_details(each) for each in decision.states],
    }
