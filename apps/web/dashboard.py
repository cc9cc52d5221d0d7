"""What the operators' dashboard (the admin index) shows: counts read from every app, nothing changed.

One function per panel, each a handful of aggregate queries; the audit chain check reads every
event, so it runs only when an operator asks for it (the dashboard's "Verify now").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.accounts.selectors import pat_counts, user_counts, users_active_count
from apps.audit.selectors import audit_event_counts
from apps.audit.verify import audit_chain_verify
from apps.keys.selectors import provider_key_counts
from apps.mcp_tools.selectors import tool_calls_failing, tool_calls_totals, tool_names_disabled
from apps.providers.answer_cache import L1_HIT, L2_HIT, MISS, answer_cache_stats
from apps.providers.breaker import circuit_snapshot
from apps.providers.registry import provider_spec_get
from apps.providers.selectors import circuits_list
from apps.quotas.ledger_reads import usage_top_users
from apps.web.models import SetupStep
from apps.web.services import SETUP_STEPS


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    users: int
    percent: int


def dashboard_users() -> dict[str, Any]:
    return user_counts(joined_since=timezone.now() - dt.timedelta(days=7))


def dashboard_setup_funnel() -> list[FunnelStep]:
    """How many active users reached each setup step: where people stop."""
    users = users_active_count()
    reached = dict(
        SetupStep.objects.filter(user__is_active=True).values("step").annotate(n=Count("user")).values_list("step", "n")
    )
    return [
        FunnelStep(
            step=step,
            label=SetupStep.Step(step).label,
            users=reached.get(step, 0),
            percent=round(100 * reached.get(step, 0) / users) if users else 0,
        )
        for step in SETUP_STEPS
    ]


def dashboard_keys() -> dict[str, Any]:
    return provider_key_counts()


def dashboard_tokens() -> dict[str, int]:
    return pat_counts()


def dashboard_tool_calls() -> dict[str, Any]:
    """Tool calls since midnight (UTC), with the tools that failed most."""
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    totals = tool_calls_totals(since=since)
    failing = tool_calls_failing(since=since, limit=5)
    return {**totals, "failing": failing, "disabled_tools": tool_names_disabled()}


def dashboard_schedules() -> list[PeriodicTask]:
    return list(PeriodicTask.objects.order_by("name")[:20])


def dashboard_audit(*, verify: bool) -> dict[str, Any]:
    counts = audit_event_counts(since=timezone.now() - dt.timedelta(days=1))
    result = audit_chain_verify() if verify else None
    return {**counts, "verified": verify, "result": result, "intact": result is not None and result.intact}


def dashboard_top_users() -> dict[str, list]:
    """This month's top users by cost and by refused calls: the usage ledger's own ranking (apps.quotas)."""
    ranking = usage_top_users()
    return {"by_cost": ranking["top_by_cost"][:5], "refused": ranking["top_refused"][:5]}


def _rate(hits: int, total: int) -> int | None:
    return round(100 * hits / total) if total else None


def dashboard_providers() -> dict[str, Any]:
    """Each provider's circuit breaker as Redis holds it now, and how often caches answered."""
    circuits = [
        {"circuit": circuit, "display_name": provider_spec_get(circuit.provider).display_name, **vars(snap)}
        for circuit in circuits_list(limit=20)
        for snap in [circuit_snapshot(circuit)]
    ]
    stats = answer_cache_stats()
    hits = stats.get(L1_HIT, 0) + stats.get(L2_HIT, 0)
    lookups = hits + stats.get(MISS, 0)
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    tools = tool_calls_totals(since=since)
    return {
        "circuits": circuits,
        "open": sum(1 for row in circuits if row["state"] != "closed"),
        "answers": {**stats, "hits": hits, "lookups": lookups, "rate": _rate(hits, lookups)},
        "tools_rate": _rate(tools["cached"], tools["calls"]),
    }
