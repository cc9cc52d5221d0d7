"""Token and cost budgets: reserve before a provider call, count it after, reconcile with the ledger.

Every account has one `BudgetSpend` row per period (day, month) overall and per provider, kept for
every provider call whether a budget applies or not: `tokens`/`cost` are the usage ledger's sums (one
figure for the usage API, the pages, the warnings and the refusals), `reserved_*` the calls admitted
and not yet recorded. A row missing when first needed starts from the ledger, so a budget created
mid-period counts what was already spent.

`budget_reserve` locks the rows the account's budgets need in a fixed order, caps the call's output to
what the hard budgets have left (refusing only below QUOTA_MIN_OUTPUT_TOKENS) and reserves that, or
refuses without adding anything; parallel calls wait on the row locks, so together they can never
pass a hard budget by more than their estimates were short. `budget_record`, in the transaction
that writes the ledger row, hands the reservation back and counts what the call really used.
apps.quotas.reconcile compares the rows with the ledger (a beat job and `manage.py budget_reconcile`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from apps.core.errors import RateLimited
from apps.quotas.models import Budget, BudgetSpend, ModelPrice, Notification, UsageRecord
from apps.quotas.notifications import notification_send
from apps.quotas.services import MILLION, call_cost, price_for

PERIODS = ("day", "month")
# The ledger's precision (UsageRecord.cost): a call's cost is counted as the ledger stores it.
LEDGER_QUANTUM = Decimal("0.00000001")

SpendKey = tuple[str, str, dt.date]  # (provider or "" for all, period, period start)


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
    # The output the call may produce: the asked max_output_tokens, or less when a budget capped it.
    max_output_tokens: int = 0
    asked_output_tokens: int = 0
    spend_keys: list[SpendKey] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # soft budgets this call passes

    @property
    def capped(self) -> bool:
        return self.max_output_tokens < self.asked_output_tokens


def ledger_cost(value: Decimal) -> Decimal:
    """A cost as the ledger stores it (8 decimal places), so counters add exactly what the ledger sums."""
    return Decimal(value).quantize(LEDGER_QUANTUM)


def period_start(period: str, now: dt.datetime) -> dt.date:
    today = now.astimezone(dt.UTC).date()
    return today if period == "day" else today.replace(day=1)


def period_end(period: str, start: dt.date) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def period_reset(period: str, now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(period_end(period, period_start(period, now)), dt.time(), tzinfo=dt.UTC)


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


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


# --- The spend rows ------------------------------------------------------------------------------------


def ledger_spend(
    *, user_id: int, provider: str, period: str, start: dt.date, excluding: int | None = None
) -> tuple[int, Decimal]:
    """What the usage ledger says the account spent in the period: (tokens, cost). A cached answer is 0.

    `excluding`: a ledger row the caller is counting itself.
    """
    rows = UsageRecord.objects.filter(
        user_id=user_id, created_at__gte=day_start(start), created_at__lt=day_start(period_end(period, start))
    ).exclude(pk=excluding)
    if provider:
        rows = rows.filter(provider=provider)
    totals = rows.aggregate(
        tokens=Sum(F("input_tokens") + F("output_tokens"), filter=Q(cached=False)), cost=Sum("cost")
    )
    return int(totals["tokens"] or 0), ledger_cost(totals["cost"] or 0)


def _key_filter(keys: list[SpendKey]) -> Q:
    return functools.reduce(
        operator.or_, (Q(provider=provider, period=period, period_start=start) for provider, period, start in keys)
    )


def _spend_rows_locked(
    *, user_id: int, keys: list[SpendKey], counting: int | None = None
) -> dict[SpendKey, BudgetSpend]:
    """The account's rows for `keys`, locked in one fixed order; a missing row starts from the ledger.

    A row is missing only before the account's first call of the period (every call counts in them)
    or for spend from before rows were kept for every call: either way the ledger has the figure,
    except for the ledger row `counting`, which the caller is about to add itself.
    """
    keys = sorted(set(keys))
    existing = set(
        BudgetSpend.objects.filter(_key_filter(keys), user_id=user_id).values_list("provider", "period", "period_start")
    )
    missing = [key for key in keys if key not in existing]
    if missing:
        rows = []
        for provider, period, start in missing:
            tokens, cost = ledger_spend(
                user_id=user_id, provider=provider, period=period, start=start, excluding=counting
            )
            rows.append(
                BudgetSpend(
                    user_id=user_id, provider=provider, period=period, period_start=start, tokens=tokens, cost=cost
                )
            )
        # Another call may create the same row meanwhile: its row (and its figures) win.
        BudgetSpend.objects.bulk_create(rows, ignore_conflicts=True)
    # One statement, ordered: two calls never wait on each other's rows the other way round.
    locked = BudgetSpend.objects.select_for_update().filter(_key_filter(keys), user_id=user_id).order_by("pk")
    return {(row.provider, row.period, row.period_start): row for row in locked}


def _used(budget: Budget, spend: BudgetSpend) -> Decimal:
    return Decimal(spend.tokens) if budget.measure == "tokens" else spend.cost


def _reserved(budget: Budget, spend: BudgetSpend) -> Decimal:
    return Decimal(spend.reserved_tokens) if budget.measure == "tokens" else spend.reserved_cost


def _output_room(*, budget: Budget, spend: BudgetSpend, price: ModelPrice | None, input_tokens: int) -> int | None:
    """The most output tokens a call with `input_tokens` may produce within `budget`; None: no bound.

    Negative when even the input does not fit.
    """
    left = budget.amount - _used(budget, spend) - _reserved(budget, spend)
    if budget.measure == "tokens":
        return math.floor(left - input_tokens)
    input_cost = call_cost(price=price, input_tokens=input_tokens, output_tokens=0, cached=False)
    left -= input_cost
    if left < 0:
        return -1
    if price is None or price.output_per_million == 0:
        return None  # output costs nothing (or nothing known): the cost budget does not bound it
    return math.floor(left * MILLION / price.output_per_million)


@transaction.atomic
def budget_reserve(*, user, provider: str, model: str, input_tokens: int, max_output_tokens: int) -> Reservation:
    """Count a provider call's estimate (input + the most output it may produce) against every budget.

    When a hard budget has less left than that, the output is capped to what fits (the reservation's
    `max_output_tokens`; the caller asks the provider for no more); below QUOTA_MIN_OUTPUT_TOKENS
    (or the whole ask, if smaller) the call is refused: BudgetExceeded naming the budget, what is used
    and reserved, when it resets and an alternative.
    """
    now = timezone.now()
    price = price_for(provider=provider, model=model, at=now)
    reservation = Reservation(
        user_id=user.pk,
        provider=provider,
        model=model,
        tokens=input_tokens + max_output_tokens,
        cost=ledger_cost(
            call_cost(price=price, input_tokens=input_tokens, output_tokens=max_output_tokens, cached=False)
        ),
        max_output_tokens=max_output_tokens,
        asked_output_tokens=max_output_tokens,
    )
    budgets = [budget for budget in budgets_effective(user) if budget.provider in ("", provider)]
    if not budgets:
        return reservation
    keys = sorted({(budget.provider, budget.period, period_start(budget.period, now)) for budget in budgets})
    spends = _spend_rows_locked(user_id=user.pk, keys=keys)

    def spend_of(budget: Budget) -> BudgetSpend:
        return spends[(budget.provider, budget.period, period_start(budget.period, now))]

    output, binding = max_output_tokens, None
    for budget in budgets:
        if not budget.hard:
            continue
        room = _output_room(budget=budget, spend=spend_of(budget), price=price, input_tokens=input_tokens)
        if room is not None and room < output:
            output, binding = room, budget
    if binding is not None and output < min(settings.QUOTA_MIN_OUTPUT_TOKENS, max_output_tokens):
        spend = spend_of(binding)
        description = _describe(binding, _used(binding, spend), now, reserved=_reserved(binding, spend))
        alternative = _alternative(budget=binding, model=model, price=price)
        raise BudgetExceeded(
            " ".join(part for part in (description["message"], alternative) if part),
            retry_after=int((period_reset(binding.period, now) - now).total_seconds()),
            details=description["details"],
        )
    tokens = input_tokens + output
    cost = ledger_cost(call_cost(price=price, input_tokens=input_tokens, output_tokens=output, cached=False))
    reservation.tokens, reservation.cost, reservation.max_output_tokens = tokens, cost, output
    for budget in budgets:
        spend = spend_of(budget)
        used, reserved = _used(budget, spend), _reserved(budget, spend)
        wanted = Decimal(tokens) if budget.measure == "tokens" else cost
        if not budget.hard and used + reserved + wanted > budget.amount:
            reservation.warnings.append(_describe(budget, used, now, reserved=reserved)["details"])
    for key, spend in spends.items():
        spend.reserved_tokens += tokens
        spend.reserved_cost += cost
        spend.save(update_fields=["reserved_tokens", "reserved_cost"])
        reservation.spend_keys.append(key)
    return reservation


def budget_record(*, user, reservation: Reservation | None, record: UsageRecord) -> None:
    """In the transaction that writes the ledger row `record`: hand back the reservation, count the use.

    The use is counted in the periods of the ledger row's own time (a call reserved before midnight and
    recorded after counts in the new day, as the ledger does), in every row of the account's periods
    whether a budget applies or not. Then the budgets' warnings, with the figure just counted.
    """
    tokens = 0 if record.cached else record.input_tokens + record.output_tokens
    cost = ledger_cost(record.cost)
    reserved_keys = reservation.spend_keys if reservation is not None else []
    counted_keys = [
        (provider, period, period_start(period, record.created_at))
        for provider in ("", record.provider)
        for period in PERIODS
    ]
    if not tokens and not cost:
        counted_keys = []
    if not reserved_keys and not counted_keys:
        return
    spends = _spend_rows_locked(user_id=user.pk, keys=[*reserved_keys, *counted_keys], counting=record.pk)
    for key, spend in spends.items():
        if key in reserved_keys:
            spend.reserved_tokens -= reservation.tokens
            spend.reserved_cost -= reservation.cost
        if key in counted_keys:
            spend.tokens += tokens
            spend.cost += cost
        spend.save(update_fields=["tokens", "cost", "reserved_tokens", "reserved_cost"])
    if counted_keys:
        for budget in budgets_effective(user):
            spend = spends.get((budget.provider, budget.period, period_start(budget.period, record.created_at)))
            if spend is not None and budget.provider in ("", record.provider):
                budget_warnings_send(user=user, budget=budget, spend=spend, now=record.created_at)


PERIOD_ADJECTIVES = {"day": "daily", "month": "monthly"}


def number_text(value: Decimal | int) -> str:
    """1000.0000 -> '1000', 0.45000000 -> '0.45': amounts as people write them."""
    text = f"{Decimal(value):.8f}".rstrip("0").rstrip(".")
    return text or "0"


def _describe(budget: Budget, used: Decimal, now: dt.datetime, *, reserved: Decimal = Decimal(0)) -> dict:
    scope = f"for {budget.provider}" if budget.provider else "across all providers"
    unit = "tokens" if budget.measure == "tokens" else "USD"
    amount = number_text(budget.amount)
    reset = period_reset(budget.period, now)
    kind = "hard" if budget.hard else "soft"
    in_progress = f", {number_text(reserved)} {unit} held for calls in progress" if reserved > 0 else ""
    left = budget.amount - used - reserved
    state = f"has {number_text(left)} {unit} left, too little for this call" if left > 0 else "is used up"
    return {
        "message": (
            f"The {kind} {PERIOD_ADJECTIVES[budget.period]} budget of {amount} {unit} {scope} {state} "
            f"({number_text(used)} {unit} used{in_progress}); it resets at {reset:%Y-%m-%d %H:%M} UTC."
        ),
        "details": {
            "limit": f"budget {budget.measure}/{budget.period} {budget.provider or 'all providers'}",
            "amount": str(budget.amount),
            "used": number_text(used),
            "reserved": number_text(reserved),
            "reset_at": reset.isoformat(),
            "hard": budget.hard,
        },
    }


def _alternative(*, budget: Budget, model: str, price: ModelPrice | None) -> str:
    # Only what is true whatever the cache holds: whether an earlier identical question's answer is
    # cached is for the caller to say (provider_call_admit's `cached_answer`), since only it knows the question.
    if budget.provider:
        return "Another provider with budget left still works."
    cheaper = None
    if price is not None and budget.measure == "cost":

        def per_million(row: ModelPrice) -> Decimal:
            return row.input_per_million + row.output_per_million

        rows = ModelPrice.objects.filter(provider=price.provider, effective_from__lte=timezone.now())
        candidates = [row for row in rows.exclude(model=model) if per_million(row) < per_million(price)]
        cheaper = min(candidates, key=per_million, default=None)
    if cheaper is not None:
        return f"A cheaper model ({cheaper.model}) may still fit."
    return ""


# --- Warnings before the limit -------------------------------------------------------------------------


def budget_warnings_send(*, user, budget: Budget, spend: BudgetSpend, now: dt.datetime) -> list[Notification]:
    """Tell the account, in the app and by email, of every threshold of `budget` its spend has reached.

    The spend is what the ledger counted (never calls still in progress), the figure the usage API and
    pages show. Each threshold once per period (notification_send keeps its key unique in the database).
    """
    if budget.amount <= 0:
        return []
    used = _used(budget, spend)
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
        details = {key: value for key, value in description["details"].items() if key != "reserved"}
        notification = notification_send(
            user=user, kind="budget_warning", message=message, data={**details, "threshold": threshold}, dedup_key=key
        )
        if notification is not None:
            sent.append(notification)
    return sent


def budget_warnings_scan(*, now: dt.datetime | None = None) -> int:
    """The beat job: every account with spend this period, checked against its budgets' thresholds."""
    now = now or timezone.now()
    count = 0
    starts = {period: period_start(period, now) for period in PERIODS}
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
