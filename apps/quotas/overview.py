"""What an account may do and what it has used: GET /api/quotas/limits and GET /api/quotas/usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from apps.core.aggregates import DecimalSum
from apps.core.limiter import Limit, failure_mode
from apps.quotas.budgets import (
    budgets_effective,
    ledger_cost,
    ledger_spend,
    number_text,
    period_reset,
    period_start,
)
from apps.quotas.models import BudgetSpend, UsageRecord
from apps.quotas.services import provider_limit, tool_limit, user_limit
from apps.quotas.sources import tool_source


def _limit_row(limit: Limit, applies_to: str) -> dict:
    return {
        "name": limit.name,
        "family": limit.family,
        "rate": f"{limit.amount}/{limit.period_seconds}s",
        "burst": limit.burst,
        "source": limit.source,
        "applies_to": applies_to,
        "when_redis_down": failure_mode(limit.family),
    }


def limits_effective(*, principal) -> list[dict]:
    """Every limit that applies to `principal`: its own rate, each tool it may call, its provider calls."""
    user = principal.user
    rows = [_limit_row(user_limit(user), "every request by this account, through every door")]
    for tool in tool_source().tool_rates(principal=principal):
        limit = tool_limit(user_id=user.pk, tool_name=tool.tool_name, policy_rate=tool.rate)
        rows.append(_limit_row(limit, f"calls to the tool {tool.tool_name}"))
    provider = provider_limit(user_id=user.pk, provider="<each provider>")
    rows.append({**_limit_row(provider, "calls to each LLM provider, per provider"), "name": "provider"})
    return rows


def usage_summary(*, user, now=None) -> dict:
    """The account's use in the current day and month: per provider, model and tool, and per budget."""
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
        for row in records.values("provider").annotate(**totals, cost=DecimalSum("cost")).order_by("provider"):
            providers.append({**_usage_row(row), "provider": row["provider"], "period": period})
        for row in records.values("provider", "model").annotate(**totals, cost=DecimalSum("cost")).order_by("provider"):
            models_.append({**_usage_row(row), "provider": row["provider"], "model": row["model"], "period": period})
        for tool_name, calls in tool_source().tool_call_counts(user_id=user.pk, since=start_at).items():
            tools.append({"tool": tool_name, "period": period, "calls": calls})
    return {
        "periods": periods,
        "providers": providers,
        "models": models_,
        "tools": tools,
        "budgets": budget_standings(user=user, now=now),
    }


def budget_standings(*, user, now: dt.datetime | None = None) -> list[dict]:
    """Each budget of the account with the one figure used everywhere: what the ledger counted.

    `reserved` is what calls in progress hold; `remaining` is what a new call may still use.
    """
    now = now or timezone.now()
    budgets = []
    for budget in budgets_effective(user):
        start = period_start(budget.period, now)
        spend = BudgetSpend.objects.filter(
            user=user, provider=budget.provider, period=budget.period, period_start=start
        ).first()
        if spend is None:  # no call yet this period since rows were kept: the ledger has the figure
            tokens, cost = ledger_spend(user_id=user.pk, provider=budget.provider, period=budget.period, start=start)
            reserved_tokens, reserved_cost = 0, Decimal(0)
        else:
            tokens, cost = spend.tokens, spend.cost
            reserved_tokens, reserved_cost = spend.reserved_tokens, spend.reserved_cost
        used = Decimal(tokens) if budget.measure == "tokens" else cost
        reserved = Decimal(reserved_tokens) if budget.measure == "tokens" else reserved_cost
        budgets.append(
            {
                "provider": budget.provider or None,
                "period": budget.period,
                "measure": budget.measure,
                "limit": number_text(budget.amount),
                "used": number_text(used),
                "reserved": number_text(reserved),
                "remaining": number_text(max(budget.amount - used - reserved, 0)),
                "reset_at": period_reset(budget.period, now).isoformat(),
                "hard": budget.hard,
                "source": "override" if budget.user_id else f"role {budget.role}",
            }
        )
    return budgets


def _usage_row(row: dict) -> dict:
    return {
        "calls": row["calls"],
        "input_tokens": row["input_tokens"] or 0,
        "output_tokens": row["output_tokens"] or 0,
        "cost": str(ledger_cost(row["cost"] or 0)),  # as the ledger stores it, whichever database summed it
    }
