"""What the quotas app reports about tools, answered from the pipeline's policies and ToolCall rows.

Registered with apps.quotas.sources at start-up (apps.py): quotas sits below this app and may not
import it, yet `GET /api/quotas/limits`, `GET /api/quotas/usage` and the operators' ledger page show
tool limits, tool calls and refusals.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count

from apps.accounts.principal import Principal
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.pipeline.policies import policy_for, tools_available
from apps.quotas.sources import ToolRate, ToolSource


def tool_rates(*, principal: Principal) -> list[ToolRate]:
    return [
        ToolRate(tool_name=spec.name, rate=policy_for(spec).rate_limit or None)
        for spec in tools_available(principal=principal)
    ]


def tool_call_counts(*, user_id: int, since: dt.datetime) -> dict[str, int]:
    rows = (
        ToolCall.objects.filter(user_id=user_id, created_at__gte=since)
        .values("tool_name")
        .annotate(calls=Count("id"))
        .order_by("tool_name")
    )
    return {row["tool_name"]: row["calls"] for row in rows}


def tool_refusals_by_user(*, since: dt.datetime, codes: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    rows = (
        ToolCall.objects.filter(created_at__gte=since, error_code__in=codes, user__isnull=False)
        .values("user__username")
        .annotate(refusals=Count("id"))
        .order_by("-refusals")[:limit]
    )
    return list(rows)


TOOL_SOURCE = ToolSource(
    tool_rates=tool_rates, tool_call_counts=tool_call_counts, tool_refusals_by_user=tool_refusals_by_user
)
