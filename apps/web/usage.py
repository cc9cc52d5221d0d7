"""The usage page's reads: apps.quotas' summary and limits, plus a daily series drawn as a server-side chart.

No rule lives here: the numbers are quotas' (usage ledger, budgets, notifications) and the tool-call
ledger's; this module only shapes them for a page (bars of an SVG chart, budget meters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.mcp_tools.selectors import tool_calls_by_day
from apps.quotas import ledger_reads
from apps.quotas.budgets import number_text

if TYPE_CHECKING:
    from apps.quotas.models import Notification

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
    provider = ledger_reads.usage_by_day(user=user, since=since)
    tools = tool_calls_by_day(user=user, since=since)
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
    return ledger_reads.notifications_recent(user=user, limit=NOTIFICATIONS_SHOWN)
