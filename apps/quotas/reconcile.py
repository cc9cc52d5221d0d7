"""Reconciliation: the budget spend rows compared with the usage ledger, differences audited and corrected.

`budget_spend_reconcile` is the hourly beat job `quotas.budget_spend_reconcile` and `manage.py
budget_reconcile`. Why it corrects rather than only reports is in its docstring (and docs/quotas.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from apps.audit.services import audit_event_record
from apps.quotas.budgets import PERIODS, day_start, ledger_cost, ledger_spend, number_text, period_end, period_start
from apps.quotas.models import BudgetSpend, UsageRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpendDifference:
    user_id: int
    provider: str
    period: str
    period_start: dt.date
    counted_tokens: int
    counted_cost: Decimal
    ledger_tokens: int
    ledger_cost: Decimal

    def audit_data(self) -> dict:
        # The audit trail masks every field whose name says "token", so the figures go as
        # [tokens, USD] pairs under names that do not.
        row = self.as_dict()
        return {
            "provider": row["provider"],
            "period": row["period"],
            "period_start": row["period_start"],
            "counted": [row["counted_tokens"], row["counted_cost"]],
            "ledger": [row["ledger_tokens"], row["ledger_cost"]],
            "corrected": True,
        }

    def as_dict(self) -> dict:
        return {
            "user_id": self.user_id,
            "provider": self.provider or "all providers",
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "counted_tokens": self.counted_tokens,
            "counted_cost": number_text(self.counted_cost),
            "ledger_tokens": self.ledger_tokens,
            "ledger_cost": number_text(self.ledger_cost),
        }


def _ledger_by_scope(*, period: str, start: dt.date) -> dict[tuple[int, str], tuple[int, Decimal]]:
    """The ledger's (tokens, cost) per (user, provider) and per (user, "") in one period, in one query."""
    rows = (
        UsageRecord.objects.filter(
            created_at__gte=day_start(start), created_at__lt=day_start(period_end(period, start))
        )
        .values("user_id", "provider")
        .annotate(tokens=Sum(F("input_tokens") + F("output_tokens"), filter=Q(cached=False)), cost=Sum("cost"))
    )
    totals: dict[tuple[int, str], tuple[int, Decimal]] = {}
    for row in rows:
        tokens, cost = int(row["tokens"] or 0), ledger_cost(row["cost"] or 0)
        for scope in ((row["user_id"], row["provider"]), (row["user_id"], "")):
            before = totals.get(scope, (0, Decimal(0)))
            totals[scope] = (before[0] + tokens, before[1] + cost)
    return totals


def budget_spend_reconcile(*, now: dt.datetime | None = None) -> list[SpendDifference]:
    """Compare every spend row of the current and the previous day and month with the usage ledger.

    A row that differs is audited (`budget.reconciled`, with both figures) and set to the ledger's
    figure: the ledger row and the count are written in one transaction, so a difference means the
    count drifted (a manual edit, a restored backup, spend from before every call was counted), and
    the ledger, one append-only row per call, is what was really spent. The previous periods are
    checked so their final figures are right too. Returns the differences found.
    """
    now = now or timezone.now()
    found: list[SpendDifference] = []
    for period in PERIODS:
        current = period_start(period, now)
        previous = period_start(period, day_start(current) - dt.timedelta(days=1))
        for start in (previous, current):
            ledger = _ledger_by_scope(period=period, start=start)
            rows = BudgetSpend.objects.filter(period=period, period_start=start).values_list(
                "pk", "user_id", "provider", "tokens", "cost"
            )
            suspects = [
                pk
                for pk, user_id, provider, tokens, cost in rows
                if (tokens, ledger_cost(cost)) != ledger.get((user_id, provider), (0, Decimal(0)))
            ]
            for pk in suspects:
                difference = _spend_row_reconcile(pk=pk)
                if difference is not None:
                    found.append(difference)
    return found


@transaction.atomic
def _spend_row_reconcile(*, pk: int) -> SpendDifference | None:
    # Under the row's lock a call being recorded has either committed its ledger row and its count, or
    # does both after this: the comparison is exact, not a race.
    spend = BudgetSpend.objects.select_for_update().filter(pk=pk).first()
    if spend is None:
        return None
    tokens, cost = ledger_spend(
        user_id=spend.user_id, provider=spend.provider, period=spend.period, start=spend.period_start
    )
    if (spend.tokens, ledger_cost(spend.cost)) == (tokens, cost):
        return None
    difference = SpendDifference(
        user_id=spend.user_id,
        provider=spend.provider,
        period=spend.period,
        period_start=spend.period_start,
        counted_tokens=spend.tokens,
        counted_cost=ledger_cost(spend.cost),
        ledger_tokens=tokens,
        ledger_cost=cost,
    )
    audit_event_record(
        action="budget.reconciled",
        actor=None,
        category="quota",
        outcome="failure",
        error_code="budget_spend_drift",
        subject=spend.user_id,
        target_type="budget_spend",
        target_id=spend.pk,
        data=difference.audit_data(),
    )
    logger.warning(
        "Budget spend of user %s (%s, %s from %s) differed from the ledger; set to the ledger's figure.",
        spend.user_id,
        spend.provider or "all providers",
        spend.period,
        spend.period_start,
    )
    spend.tokens, spend.cost = tokens, cost
    spend.save(update_fields=["tokens", "cost"])
    return difference
