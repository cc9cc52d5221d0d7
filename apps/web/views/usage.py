"""/settings/usage/: use this day and month, limits, budgets and their warnings (apps.quotas' numbers)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.accounts.principal import principal_for_user
from apps.quotas.overview import limits_effective, usage_summary
from apps.web import usage
from apps.web.usage import CHART_HEIGHT, CHART_WIDTH
from apps.web.views.common import render_page, signed_in_page


@signed_in_page
def usage_page(request: HttpRequest) -> HttpResponse:
    summary = usage_summary(user=request.user)
    bars = usage.usage_daily(user=request.user)
    context = {
        "summary": summary,
        "tools_today": [row for row in summary["tools"] if row["period"] == "day"],
        "tools_month": [row for row in summary["tools"] if row["period"] == "month"],
        "providers": summary["providers"],
        "budgets": usage.budget_meters(summary),
        "limits": limits_effective(principal=principal_for_user(request.user)),
        "notifications": usage.notifications_recent(user=request.user),
        "bars": bars,
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "chart_total": sum(bar.calls + bar.tool_calls for bar in bars),
        # The scale: the tallest bar's calls (usage.usage_daily draws every bar against it).
        "chart_max": max((bar.calls + bar.tool_calls for bar in bars), default=0),
        # Under the chart: its first, middle and last day.
        "chart_dates": [bars[0].day, bars[len(bars) // 2].day, bars[-1].day] if bars else [],
    }
    return render_page(request, "web/settings/usage.html", context)
