"""The provider call path's way into quotas: admit before a call to an LLM provider, record after it.

    admission = provider_call_admit(user=user, provider=route.provider, model=route.model,
                                    input_tokens=estimated_prompt_tokens, max_output_tokens=max_tokens)
    # ... the provider call, outside any transaction (admit has committed its reservation) ...
    provider_call_record(user=user, provider=route.provider, model=route.model, admission=admission,
                         input_tokens=usage.input, output_tokens=usage.output, latency_ms=elapsed,
                         cached=False, outcome="ok", door="mcp", tool_name="chat", token_id=principal.token_id)

A cached answer is not admitted (it spends nothing) and is recorded with `admission=None, cached=True`
at cost 0. A failed call is recorded too (its outcome is the error code; tokens the provider
reports, usually none), which hands back what admit reserved. When the provider itself says the
account is out of quota, `provider_quota_exhausted` tells the user once a day per provider.

Layers: quotas sits above providers, so the caller is the layer above both (the tools in
apps.mcp_tools, the chat loop), never apps.providers itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_event_record
from apps.core.errors import InvalidInput
from apps.core.limiter import Decision
from apps.quotas.budgets import BudgetExceeded, Reservation, budget_record, budget_reserve, ledger_cost
from apps.quotas.models import Notification, UsageRecord
from apps.quotas.notifications import notification_send
from apps.quotas.services import call_cost, price_for, quota_provider_call_check


@dataclass(frozen=True)
class ProviderCallAdmission:
    """An admitted provider call: its rate-limit standing and its budget reservation until recorded."""

    user_id: int
    provider: str
    model: str
    reservation: Reservation
    rate_limits: Decision

    @property
    def warnings(self) -> list[dict]:
        """Soft budgets this call passes (details as in a refusal), for the caller to show if it likes."""
        return self.reservation.warnings

    @property
    def max_output_tokens(self) -> int:
        """The most output the call may ask the provider for: the asked amount, or what the budgets have left."""
        return self.reservation.max_output_tokens

    @property
    def capped(self) -> bool:
        return self.reservation.capped


def provider_call_admit(
    *,
    user,
    provider: str,
    model: str,
    input_tokens: int,
    max_output_tokens: int,
    cached_answer: Callable[[], bool] | None = None,
) -> ProviderCallAdmission:
    """Check and count a provider call before it is made: the per-user per-provider rate, then every budget.

    The rate is one Redis round trip (QUOTA_PROVIDER_RATE; the `provider` family's Redis-down policy).
    The budgets reserve the most the call can cost (input + max output tokens, priced now) under row
    locks, so parallel calls cannot pass a hard budget together. When a hard budget has less left, the
    output is capped to what fits: the caller must ask the provider for no more than
    `admission.max_output_tokens` (and may tell the user, `admission.capped`). `cached_answer` says
    whether an answer to this very call is in the caller's own answer cache; it is asked only for a
    refusal, which offers the cached answer only when it says so. Raises:
    - RateLimitExceeded (code rate_limited) naming the provider limit, with retry_after;
    - BudgetExceeded (code budget_exceeded) naming the budget, the amount used, the reset time and an
      alternative (another provider, a cheaper model, a cached answer that exists), retry_after until
      the reset, when not even QUOTA_MIN_OUTPUT_TOKENS of output fit;
    - ServiceUnavailable (rate_limiter_unavailable) when Redis is down and the family is fail-closed;
    - InvalidInput (validation_error) for negative token counts.
    All three refusals are RateLimited / DomainErrors: 429 or 503 at REST, tool errors over MCP.
    """
    _tokens_checked(input_tokens, max_output_tokens)
    decision = quota_provider_call_check(user=user, provider=provider)
    try:
        reservation = budget_reserve(
            user=user, provider=provider, model=model, input_tokens=input_tokens, max_output_tokens=max_output_tokens
        )
    except BudgetExceeded as refusal:
        # Asked after the reservation's transaction is over: no row stays locked while the cache answers.
        available = cached_answer is not None and cached_answer()
        if available:
            refusal.message += " An answer to this same question is cached: asking again returns it at no cost."
            refusal.args = (refusal.message,)
        refusal.details["cached_answer"] = available
        raise
    return ProviderCallAdmission(
        user_id=user.pk, provider=provider, model=model, reservation=reservation, rate_limits=decision
    )


def provider_call_record(
    *,
    user,
    provider: str,
    model: str,
    admission: ProviderCallAdmission | None,
    input_tokens: int,
    output_tokens: int,
    latency_ms: float,
    cached: bool,
    outcome: str,
    door: str,
    tool_name: str = "",
    token_id: int | None = None,
) -> UsageRecord:
    """After the call: the ledger row (cost from the price table; 0 when cached) and the budget settled.

    One transaction: the reservation is replaced by the real use exactly when the row is written, and
    the use is counted in the account's spend rows (apps.quotas.budgets.budget_record).
    """
    _tokens_checked(input_tokens, output_tokens)
    if admission is not None and (admission.user_id, admission.provider, admission.model) != (user.pk, provider, model):
        raise InvalidInput("The admission is for another user, provider or model.")
    with transaction.atomic():
        # The cost from the price table at call time, stored: later price changes do not rewrite history.
        price = None if cached else price_for(provider=provider, model=model)
        record = UsageRecord(
            user=user,
            token_id=token_id,
            door=door[:20],
            tool_name=tool_name[:100],
            provider=provider[:40],
            model=model[:120],
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=ledger_cost(
                call_cost(price=price, input_tokens=input_tokens, output_tokens=output_tokens, cached=cached)
            ),
            price=price,
            latency_ms=latency_ms,
            cached=cached,
            outcome=outcome[:50],
        )
        record.full_clean()
        record.save()
        budget_record(user=user, reservation=admission.reservation if admission is not None else None, record=record)
        # The call's audit event, with its tokens and cost, commits with its ledger row. The actor is the
        # request's caller (an operator acting for the user included); the user is the subject.
        audit_event_record(
            action="provider.called",
            category="provider",
            subject=user,
            outcome="success" if outcome == "ok" else "failure",
            error_code="" if outcome == "ok" else outcome,
            target_type="provider",
            target_id=f"{provider}/{model}"[:64],
            data={
                "provider": provider,
                "model": model,
                "cached": cached,
                "tool": tool_name,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
            },
            token_id=token_id,
            door=door,
            duration_ms=latency_ms,
            tokens=input_tokens + output_tokens,
            cost=record.cost,
        )
        return record


def provider_quota_exhausted(*, user, provider: str) -> Notification | None:
    """The provider said the user's own account is out of quota or credit: tell the user, once a day.

    In the app and by email; None when today's notice for this provider was already sent.
    """
    today = timezone.now().date().isoformat()
    return notification_send(
        user=user,
        kind="provider_quota",
        message=(
            f"{provider} refused a call because your {provider} account is out of quota or credit. "
            f"Check the plan and billing on the provider's site, or use another provider's key."
        ),
        data={"provider": provider, "date": today},
        dedup_key=f"provider-quota:{provider}:{today}",
    )


def _tokens_checked(*counts: int) -> None:
    if any(count < 0 for count in counts):
        raise InvalidInput("Token counts cannot be negative.")
