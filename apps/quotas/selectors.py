"""Which request rate applies to an account, and where it comes from: override, role default or setting.

Read on every request, so the answer is kept per process for RATE_CACHE_SECONDS; a save or delete
in this process forgets it at once (other processes see admin changes within that time).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.quotas.limiter import rate_split
from apps.quotas.models import RoleRateLimit, UserRateLimit

RATE_CACHE_SECONDS = 30


@dataclass(frozen=True)
class EffectiveRate:
    rate: str
    burst: int
    source: str  # "override" | "role <name>" | "setting QUOTA_USER_RATE"


RATE_CACHE_MAX = 10_000
_cache: dict[int, tuple[float, EffectiveRate]] = {}
_lock = threading.Lock()


def user_rate_effective(user) -> EffectiveRate:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(user.pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    rate = _user_rate_from_db(user)
    with _lock:
        if len(_cache) >= RATE_CACHE_MAX:
            _cache.clear()
        _cache[user.pk] = (now + RATE_CACHE_SECONDS, rate)
    return rate


def _user_rate_from_db(user) -> EffectiveRate:
    override = UserRateLimit.objects.filter(user_id=user.pk).first()
    if override is not None:
        return EffectiveRate(rate=override.rate, burst=override.burst, source="override")
    # Roles are group names: one query with a subquery, not one for the groups and one for the rates.
    defaults = list(RoleRateLimit.objects.filter(role__in=user.groups.values("name")))
    if defaults:
        # Several roles: the most generous sustained rate wins.
        best = max(defaults, key=lambda row: (_per_second(row.rate), row.burst))
        return EffectiveRate(rate=best.rate, burst=best.burst, source=f"role {best.role}")
    return EffectiveRate(
        rate=settings.QUOTA_USER_RATE, burst=settings.QUOTA_USER_BURST, source="setting QUOTA_USER_RATE"
    )


def _per_second(rate: str) -> float:
    amount, period = rate_split(rate)
    return amount / period


def rates_forget() -> None:
    with _lock:
        _cache.clear()


@receiver([post_save, post_delete], sender=UserRateLimit)
@receiver([post_save, post_delete], sender=RoleRateLimit)
def _rate_changed(sender, **kwargs) -> None:
    rates_forget()


def limits_effective(*, principal) -> list[dict]:
    """Every limit that applies to `principal`: its own rate, each tool it may call, its provider calls."""
    from apps.mcp_tools.pipeline.policies import policy_for, tools_available
    from apps.quotas.limiter import failure_mode
    from apps.quotas.services import provider_limit, tool_limit, user_limit

    def row(limit, applies_to: str) -> dict:
        return {
            "name": limit.name,
            "family": limit.family,
            "rate": f"{limit.amount}/{limit.period_seconds}s",
            "burst": limit.burst,
            "source": limit.source,
            "applies_to": applies_to,
            "when_redis_down": failure_mode(limit.family),
        }

    user = principal.user
    rows = [row(user_limit(user), "every request by this account, through every door")]
    for spec in tools_available(principal=principal):
        policy = policy_for(spec)
        limit = tool_limit(user_id=user.pk, tool_name=spec.name, policy_rate=policy.rate_limit or None)
        rows.append(row(limit, f"calls to the tool {spec.name}"))
    provider = provider_limit(user_id=user.pk, provider="<each provider>")
    rows.append({**row(provider, "calls to each LLM provider, per provider"), "name": "provider"})
    return rows


def usage_summary(*, user, now=None) -> dict:
    """The account's use in the current day and month: per provider, model and tool, and per budget."""
    from django.db.models import Count, Sum
    from django.utils import timezone

    from apps.mcp_tools.models import ToolCall
    from apps.quotas.budgets import budgets_effective, period_reset, period_start
    from apps.quotas.models import BudgetSpend, UsageRecord

    now = now or timezone.now()
    periods = {}
    providers, models_, tools = [], [], []
    for period in ("day", "month"):
        start = period_start(period, now)
        start_at = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        reset = period_reset(period, now)
        periods[period] = {"start": start_at.isoformat(), "reset_at": reset.isoformat()}
        records = UsageRecord.objects.filter(user=user, created_at__gte=start_at)
        totals = {"calls": Count("id"), "input_tokens": Sum("input_tokens"), "output_tokens": Sum("output_tokens")}
        for row in records.values("provider").annotate(**totals, cost=Sum("cost")).order_by("provider"):
            providers.append({**_usage_row(row), "provider": row["provider"], "period": period})
        for row in records.values("provider", "model").annotate(**totals, cost=Sum("cost")).order_by("provider"):
            models_.append({**_usage_row(row), "provider": row["provider"], "model": row["model"], "period": period})
        calls = ToolCall.objects.filter(user=user, created_at__gte=start_at).values("tool_name")
        for row in calls.annotate(calls=Count("id")).order_by("tool_name"):
            tools.append({"tool": row["tool_name"], "period": period, "calls": row["calls"]})
    budgets = []
    for budget in budgets_effective(user):
        spend = BudgetSpend.objects.filter(
            user=user, provider=budget.provider, period=budget.period, period_start=period_start(budget.period, now)
        ).first()
        used = 0 if spend is None else (spend.tokens if budget.measure == "tokens" else spend.cost)
        budgets.append(
            {
                "provider": budget.provider or None,
                "period": budget.period,
                "measure": budget.measure,
                "limit": str(budget.amount),
                "used": str(used),
                "remaining": str(max(budget.amount - used, 0)),
                "reset_at": period_reset(budget.period, now).isoformat(),
                "hard": budget.hard,
                "source": "override" if budget.user_id else f"role {budget.role}",
            }
        )
    return {"periods": periods, "providers": providers, "models": models_, "tools": tools, "budgets": budgets}


def _usage_row(row: dict) -> dict:
    return {
        "calls": row["calls"],
        "input_tokens": row["input_tokens"] or 0,
        "output_tokens": row["output_tokens"] or 0,
        "cost": str(row["cost"] or 0),
    }
