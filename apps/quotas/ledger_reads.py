"""Reads of the usage ledger and notifications for the pages and the operators' dashboard (apps.web):
a user's spend by day, their latest notifications, this month's top users.

Beside selectors.py rather than in it: selectors.py answers the rate of every request and is imported
by services.py, while these read budgets' periods (budgets.py imports services.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.core.aggregates import DecimalSum
from apps.quotas.budgets import period_start
from apps.quotas.models import Notification, UsageRecord
from apps.quotas.sources import tool_source

REFUSAL_CODES = ("rate_limited", "budget_exceeded")
TOP_USERS = 10


def usage_by_day(*, user: Any, since: dt.datetime) -> dict[dt.date, dict[str, Any]]:
    """{day (UTC): {"day", "calls", "cost"}} of the user's provider calls from `since` on; quiet days absent."""
    return {
        row["day"]: row
        for row in UsageRecord.objects.filter(user=user, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(calls=Count("id"), cost=DecimalSum("cost"))
    }


def notifications_recent(*, user: Any, limit: int) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("-created_at")[:limit])


def usage_top_users() -> dict[str, list]:
    """This month's top users by cost (the ledger) and by refused tool calls (the tool layer's count)."""
    start = period_start("month", timezone.now())
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    by_cost = (
        UsageRecord.objects.filter(created_at__gte=since)
        .values("user__username")
        .annotate(calls=Count("id"), tokens=Sum(F("input_tokens") + F("output_tokens")), total_cost=DecimalSum("cost"))
        .order_by("-total_cost")[:TOP_USERS]
    )
    refused = tool_source().tool_refusals_by_user(since=since, codes=REFUSAL_CODES, limit=TOP_USERS)
    return {"top_by_cost": list(by_cost), "top_refused": refused}
