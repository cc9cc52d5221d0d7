"""Reads of the tool-call ledger and the tool policies, for the pages and the operators' dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from apps.mcp_tools.models import ToolCall, ToolPolicy


def tool_calls_by_day(*, user: Any, since: dt.datetime) -> dict[dt.date, int]:
    """{day (UTC): the user's tool calls that day} from `since` on; days without calls are absent."""
    return dict(
        ToolCall.objects.filter(user=user, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(calls=Count("id"))
        .values_list("day", "calls")
    )


def tool_calls_totals(*, since: dt.datetime) -> dict[str, int]:
    """Everyone's tool calls since `since`: how many, how many failed, how many were answered from the cache."""
    return ToolCall.objects.filter(created_at__gte=since).aggregate(
        calls=Count("id"), failures=Count("id", filter=Q(success=False)), cached=Count("id", filter=Q(cached=True))
    )


def tool_calls_failing(*, since: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """The (tool, error code) pairs that failed most since `since`: [{"tool_name", "error_code", "n"}]."""
    return list(
        ToolCall.objects.filter(created_at__gte=since, success=False)
        .values("tool_name", "error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "tool_name")[:limit]
    )


def tool_names_disabled() -> list[str]:
    return list(ToolPolicy.objects.filter(enabled=False).values_list("tool_name", flat=True))
