"""The rate-limit checks every door calls: one call per request, every applicable limit in it.

REST resource views: the caller's own limit across all doors (or the address's, when anonymous).
Tool calls (REST invoke, MCP over HTTP or stdio): the caller's limit and the tool's, from the
pipeline only, so REST invoke is checked once, not twice. Provider calls: the user's per-provider
limit, for the provider call path to call.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.core.limit_reports import rate_limited_error
from apps.core.limiter import Decision, Guard, Limit, limits_hit, rate_split
from apps.quotas.models import ModelPrice
from apps.quotas.selectors import user_rate_effective

ENFORCING = "QUOTA_RATE_LIMITS"


def user_limit(user) -> Limit:
    effective = user_rate_effective(user)
    amount, period = rate_split(effective.rate)
    return Limit(
        family="user",
        name="user",
        key=f"user:{user.pk}",
        amount=amount,
        period_seconds=period,
        burst=effective.burst,
        source=effective.source,
    )


def address_limit(address: str) -> Limit:
    amount, period = rate_split(settings.QUOTA_ANON_RATE)
    return Limit(
        family="anonymous",
        name="address",
        key=f"address:{address}",
        amount=amount,
        period_seconds=period,
        burst=settings.QUOTA_ANON_BURST,
        source="setting QUOTA_ANON_RATE",
    )


def tool_limit(*, user_id: int, tool_name: str, policy_rate: str | None) -> Limit:
    # A tool's rate is a plain "N per period": its burst is N, as the policy's help text promises.
    rate = policy_rate or settings.MCP_RATE_LIMIT_DEFAULT
    amount, period = rate_split(rate)
    return Limit(
        family="tool",
        name=f"tool {tool_name}",
        key=f"tool:{user_id}:{tool_name}",
        amount=amount,
        period_seconds=period,
        burst=amount,
        source="tool policy" if policy_rate else "setting MCP_RATE_LIMIT_DEFAULT",
    )


def provider_limit(*, user_id: int, provider: str) -> Limit:
    amount, period = rate_split(settings.QUOTA_PROVIDER_RATE)
    return Limit(
        family="provider",
        name=f"provider {provider}",
        key=f"provider:{user_id}:{provider}",
        amount=amount,
        period_seconds=period,
        burst=settings.QUOTA_PROVIDER_BURST,
        source="setting QUOTA_PROVIDER_RATE",
    )


def _enforced(limits: list[Limit], guard: Guard | None = None, read_along: tuple[str, ...] = ()) -> Decision:
    if not settings.QUOTA_RATE_LIMITS:
        return Decision(states=())
    decision = limits_hit(limits, guard=guard, read_along=read_along)
    if not decision.admitted:
        raise rate_limited_error(decision)
    return decision


def quota_request_check(*, user, address: str) -> Decision:
    """A REST request: the signed-in caller's rate across all doors, or the address's when anonymous."""
    if user is not None and user.is_authenticated:
        return quota_caller_check(user=user)
    return _enforced([address_limit(address)])


def quota_caller_check(*, user) -> Decision:
    """A request by a signed-in caller that is not a tool call (e.g. MCP tools/list): its rate across all doors."""
    return _enforced([user_limit(user)])


def quota_tool_call_check(
    *,
    caller,
    user_id: int,
    tool_name: str,
    policy_rate: str | None,
    guard: Guard | None = None,
    read_along: tuple[str, ...] = (),
) -> Decision:
    """A tool call: the caller's rate across all doors and the per-user tool rate, in one round trip.

    `caller` is who sends the request (an operator acting for a user is counted as the operator);
    the tool's counter is the subject user's. `guard`: the version of the tool policies the caller
    decided with, checked in the same round trip (apps.core.limiter.Guard; raises GuardStale).
    `read_along`: raw Redis keys read in that round trip too (`Decision.read_along`).
    """
    limits = [user_limit(caller), tool_limit(user_id=user_id, tool_name=tool_name, policy_rate=policy_rate)]
    return _enforced(limits, guard, read_along)


def quota_provider_call_check(*, user, provider: str) -> Decision:
    """A provider call made for `user`: the per-user, per-provider rate (QUOTA_PROVIDER_RATE)."""
    return _enforced([provider_limit(user_id=user.pk, provider=provider)])


# --- Usage ledger and prices --------------------------------------------------------------------------

MILLION = Decimal(1_000_000)


def price_for(*, provider: str, model: str, at: datetime | None = None) -> ModelPrice | None:
    """The price row in force for `provider`/`model` at `at` (now by default), or None if none is known."""
    return (
        ModelPrice.objects.filter(provider=provider, model=model, effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .first()
    )


def call_cost(*, price: ModelPrice | None, input_tokens: int, output_tokens: int, cached: bool) -> Decimal:
    if cached or price is None:
        return Decimal(0)
    return (input_tokens * price.input_per_million + output_tokens * price.output_per_million) / MILLION
