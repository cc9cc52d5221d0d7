"""Token and cost budgets: reserve before a provider call, settle after it.

`budget_reserve` locks the account's spend rows for the current day and month (overall and for the
provider) in a fixed order, checks every budget that applies, and adds the call's estimate to all of
them, or refuses without adding anything. Parallel calls wait on the row locks, so together they
can never pass a hard budget. `budget_settle` replaces the estimate with what the call really used
(nothing for a cached answer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import RateLimited
from apps.quotas.models import Budget, BudgetSpend, ModelPrice, Notification
from apps.quotas.notifications import notification_send
from apps.quotas.services import call_cost, price_for


class BudgetExceeded(RateLimited):
    """A hard budget would be passed: 429 with Retry-After until the period resets."""

    code = "budget_exceeded"


@dataclass
class Reservation:
    user_id: int
    provider: str
    model: str
    tokens: int
    cost: Decimal
    spend_ids: list[int] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # soft budgets this call passes


def period_start(period: str, now: dt.datetime) -> dt.date:
    today = now.astimezone(dt.UTC).date()
    return today if period == "day" else today.replace(day=1)


def period_reset(period: str, now: dt.datetime) -> dt.datetime:
    start = period_start(period, now)
    if period == "day":
        end = start + dt.timedelta(days=1)
    else:
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)


def budgets_effective(user) -> list[Budget]:
    """The account's budgets: its own, plus its roles' where it has none of its own for the same scope."""
    own = list(Budget.objects.filter(user=user))
    scopes = {(budget.provider, budget.period, budget.measure) for budget in own}
    defaults = Budget.objects.filter(user__isnull=True, role__in=user.groups.values("name"))
    chosen: dict[tuple[str, str, str], Budget] = {}
    for budget in defaults:
        scope = (budget.provider, budget.period, budget.measure)
        if scope in scopes:
            continue
        # Several roles with the same scope: the most generous applies, as with rates.
        if scope not in chosen or budget.amount > chosen[scope].amount:
            chosen[scope] = budget
    return own + list(chosen.values())


@transaction.atomic
def budget_reserve(*, user, provider: str, model: str, input_tokens: int, max_output_tokens: int) -> Reservation:
    """Count a provider call's estimate (input + the most output it may produce) against every budget.

    Raises BudgetExceeded naming the budget, what is used, when it resets and an alternative.
    """
    now = timezone.now()
    tokens = input_tokens + max_output_tokens
    price = price_for(provider=provider, model=model, at=now)
    cost = call_cost(price=price, input_tokens=input_tokens, output_tokens=max_output_tokens, cached=False)
    reservation = Reservation(user_id=user.pk, provider=provider, model=model, tokens=tokens, cost=cost)
    budgets = [budget for budget in budgets_effective(user) if budget.provider in ("", provider)]
    if not budgets:
        return reservation
    scopes = sorted({(budget.provider, budget.period) for budget in budgets})
    BudgetSpend.objects.bulk_create(
        [
            BudgetSpend(user=user, provider=scope_provider, period=period, period_start=period_start(period, now))
            for scope_provider, period in scopes
        ],
        ignore_conflicts=True,
    )
    spends = {}
    for scope_provider, period in scopes:  # a fixed order: two calls never wait on each other's rows
        spends[(scope_provider, period)] = BudgetSpend.objects.select_for_update().get(
            user=user, provider=scope_provider, period=period, period_start=period_start(period, now)
        )
    for budget in budgets:
        spend = spends[(budget.provider, budget.period)]
        used = Decimal(spend.tokens) if budget.measure == "tokens" else spend.cost
        wanted = Decimal(tokens) if budget.measure == "tokens" else cost
        if used + wanted <= budget.amount:
            continue
        description = _describe(budget, used, now)
        if budget.hard:
            raise BudgetExceeded(
                description["message"] + " " + _alternative(user=user, budget=budget, model=model, price=price),
                retry_after=int((period_reset(budget.period, now) - now).total_seconds()),
                details=description["details"],
            )
        reservation.warnings.append(description["details"])
    for spend in spends.values():
        spend.tokens += tokens
        spend.cost += cost
        spend.save(update_fields=["tokens", "cost"])
        reservation.spend_ids.append(spend.pk)
    for budget in budgets:
        spend = spends[(budget.provider, budget.period)]
        budget_warnings_send(user=user, budget=budget, spend=spend, now=now)
    return reservation


@transaction.atomic
def budget_settle(*, reservation: Reservation, input_tokens: int, output_tokens: int, cached: bool) -> None:
    """Replace the reserved estimate with what the call used (nothing for a cached answer or a failure)."""
    if not reservation.spend_ids:
        return
    price = price_for(provider=reservation.provider, model=reservation.model)
    used_tokens = 0 if cached else input_tokens + output_tokens
    used_cost = call_cost(price=price, input_tokens=input_tokens, output_tokens=output_tokens, cached=cached)
    for spend in BudgetSpend.objects.select_for_update().filter(pk__in=reservation.spend_ids).order_by("pk"):
        spend.tokens += used_tokens - reservation.tokens
        spend.cost += used_cost - reservation.cost
        spend.save(update_fields=["tokens", "cost"])


PERIOD_ADJECTIVES = {"day": "daily", "month": "monthly"}


def number_text(value: Decimal | int) -> str:
    """1000.0000 -> '1000', 0.45000000 -> '0.45': amounts as people write them."""
    text = f"{Decimal(value):.8f}".rstrip("0").rstrip(".")
    return text or "0"


def _describe(budget: Budget, used: Decimal, now: dt.datetime) -> dict:
    scope = f"for {budget.provider}" if budget.provider else "across all providers"
    unit = "tokens" if budget.measure == "tokens" else "USD"
    amount = number_text(budget.amount)
    used_text = number_text(used)
    reset = period_reset(budget.period, now)
    kind = "hard" if budget.hard else "soft"
    return {
        "message": (
            f"The {kind} {PERIOD_ADJECTIVES[budget.period]} budget of {amount} {unit} {scope} is used up "
            f"({used_text} {unit} used); it resets at {reset:%Y-%m-%d %H:%M} UTC."
        ),
        "details": {
            "limit": f"budget {budget.measure}/{budget.period} {budget.provider or 'all providers'}",
            "amount": str(budget.amount),
            "used": str(used),
            "reset_at": reset.isoformat(),
            "hard": budget.hard,
        },
    }


def _alternative(*, user, budget: Budget, model: str, price: ModelPrice | None) -> str:
    if budget.provider:
        return "Another provider with budget left, or the cached answer to an earlier identical question, still works."
    cheaper = None
    if price is not None and budget.measure == "cost":

        def per_million(row: ModelPrice) -> Decimal:
            return row.input_per_million + row.output_per_million

        rows = ModelPrice.objects.filter(provider=price.provider, effective_from__lte=timezone.now())
        candidates = [row for row in rows.exclude(model=model) if per_million(row) < per_million(price)]
        cheaper = min(candidates, key=per_million, default=None)
    if cheaper is not None:
        return f"A cheaper model ({cheaper.model}) or the cached answer to an earlier identical question may still fit."
    return "The cached answer to an earlier identical question is still available."


# --- Warnings before the limit -------------------------------------------------------------------------


def budget_warnings_send(*, user, budget: Budget, spend: BudgetSpend, now: dt.datetime) -> list[Notification]:
    """Tell the account, in the app and by email, of every threshold of `budget` its spend has reached.

    Each threshold once per period (notification_send keeps its key unique in the database).
    """
    if budget.amount <= 0:
        return []
    used = Decimal(spend.tokens) if budget.measure == "tokens" else spend.cost
    percent = used * 100 / budget.amount
    sent = []
    for threshold in settings.QUOTA_WARNING_THRESHOLDS:
        if percent < threshold:
            break
        key = f"budget:{budget.pk}:{spend.period_start.isoformat()}:{threshold}"
        description = _describe(budget, used, now)
        scope = budget.provider or "all providers"
        unit = "tokens" if budget.measure == "tokens" else "USD"
        message = (
            f"You have used {threshold} % of your {PERIOD_ADJECTIVES[budget.period]} {unit} budget for {scope} "
            f"({number_text(used)} of {number_text(budget.amount)}); it resets at "
            f"{period_reset(budget.period, now):%Y-%m-%d %H:%M} UTC."
        )
        notification = notification_send(
            user=user,
            kind="budget_warning",
            message=message,
            data={**description["details"], "threshold": threshold},
            dedup_key=key,
        )
        if notification is not None:
            sent.append(notification)
    return sent


def budget_warnings_scan(*, now: dt.datetime | None = None) -> int:
    """The beat job: every account with spend this period, checked against its budgets' thresholds."""
    now = now or timezone.now()
    count = 0
    starts = {period: period_start(period, now) for period in ("day", "month")}
    spends = BudgetSpend.objects.filter(period_start__in=set(starts.values()), period__in=list(starts)).select_related(
        "user"
    )
    for spend in spends.iterator():
        if spend.period_start != starts[spend.period]:
            continue
        for budget in budgets_effective(spend.user):
            if budget.provider == spend.provider and budget.period == spend.period:
                count += len(budget_warnings_send(user=spend.user, budget=budget, spend=spend, now=now))
    return count
