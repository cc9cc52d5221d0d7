"""The usage page's reads: apps.quotas' summary and limits, plus a daily series drawn as a server-side chart.

No rule lives here: the numbers are quotas' (usage ledger, budgets, notifications) and the tool-call
ledger's; this module only shapes them for a page (bars of an SVG chart, budget meters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.accounts.models import User
from apps.core.aggregates import DecimalSum
from apps.mcp_tools.models import ToolCall
from apps.quotas.budgets import number_text
from apps.quotas.models import Notification, UsageRecord

CHART_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 160
NOTIFICATIONS_SHOWN = 20
PERIOD_NAMES = {"day": "Daily", "month": "Monthly"}


@dataclass(frozen=True)
class DayBar:
    day: dt.date
    calls: int
    tool_calls: int
    cost: Decimal
    x: int
    width: int
    height: int
    y: int


@dataclass(frozen=True)
class BudgetMeter:
    label: str  # what the meter's label says, amounts written as people write them
    used: Decimal
    limit: Decimal
    percent: int
    low: Decimal  # the first warning threshold, as an amount
    high: Decimal  # the last warning threshold

    @property
    def meter(self) -> dict[str, str]:
        """The <meter> attributes, as plain numbers."""
        return {
            name: number_text(value)
            for name, value in [("max", self.limit), ("low", self.low), ("high", self.high), ("value", self.used)]
        }

    reset_at: str
    hard: bool


def usage_daily(*, user: User, days: int = CHART_DAYS, now: dt.datetime | None = None) -> list[DayBar]:
    """One bar per day (UTC) for the last `days` days: tool calls and provider calls, and their cost."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    provider = {
        row["day"]: row
        for row in UsageRecord.objects.filter(user=user, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(calls=Count("id"), cost=DecimalSum("cost"))
    }
    tools = dict(
        ToolCall.objects.filter(user=user, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(calls=Count("id"))
        .values_list("day", "calls")
    )
    dates = [first + dt.timedelta(days=offset) for offset in range(days)]
    heights = {day: tools.get(day, 0) + provider.get(day, {}).get("calls", 0) for day in dates}
    tallest = max(heights.values()) or 1
    step = CHART_WIDTH // days
    bars = []
    for index, day in enumerate(dates):
        height = round(CHART_HEIGHT * heights[day] / tallest)
        bars.append(
            DayBar(
                day=day,
                calls=provider.get(day, {}).get("calls", 0),
                tool_calls=tools.get(day, 0),
                cost=provider.get(day, {}).get("cost") or Decimal(0),
                x=index * step,
                width=max(step - 2, 1),
                height=height,
                y=CHART_HEIGHT - height,
            )
        )
    return bars


def budget_meters(summary: dict) -> list[BudgetMeter]:
    """quotas' budget rows as meters whose low/high marks are the warning thresholds."""
    thresholds = settings.QUOTA_WARNING_THRESHOLDS or [80]
    meters = []
    for row in summary.get("budgets", []):
        limit = Decimal(row["limit"])
        used = Decimal(row["used"])
        scope = row["provider"] or "all providers"
        unit = "tokens" if row["measure"] == "tokens" else "US$"
        meters.append(
            BudgetMeter(
                label=(
                    f"{PERIOD_NAMES.get(row['period'], row['period'])} budget ({unit}) for {scope}: "
                    f"{number_text(used)} of {number_text(limit)}"
                ),
                used=used,
                limit=limit,
                percent=int(100 * used / limit) if limit else 100,
                low=limit * thresholds[0] / 100,
                high=limit * thresholds[-1] / 100,
                reset_at=row["reset_at"],
                hard=row["hard"],
            )
        )
    return meters


def notifications_recent(*, user: User) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("-created_at")[:NOTIFICATIONS_SHOWN])
