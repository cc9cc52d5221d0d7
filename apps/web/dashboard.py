"""What the operators' dashboard (the admin index) shows: counts read from every app, nothing changed.

One function per panel, each a handful of aggregate queries; the audit chain check reads every
event, so it runs only when an operator asks for it (the dashboard's "Verify now").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.roles import ROLES
from apps.audit.models import AuditEvent
from apps.audit.verify import audit_chain_verify
from apps.keys.models import ProviderKey
from apps.mcp_tools.models import ToolCall, ToolPolicy
from apps.providers.answer_cache import L1_HIT, L2_HIT, MISS, answer_cache_stats
from apps.providers.breaker import circuit_snapshot
from apps.providers.models import ProviderCircuit
from apps.providers.registry import provider_spec_get
from apps.quotas.admin import top_users
from apps.web.models import SetupStep
from apps.web.services import SETUP_STEPS


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    users: int
    percent: int


def dashboard_users() -> dict[str, Any]:
    by_role = dict(
        Group.objects.filter(name__in=ROLES)
        .annotate(members=Count("user", filter=Q(user__is_active=True)))
        .values_list("name", "members")
    )
    week_ago = timezone.now() - dt.timedelta(days=7)
    counts = User.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(is_active=True)),
        new=Count("id", filter=Q(date_joined__gte=week_ago)),
    )
    return {**counts, "roles": [(role, by_role.get(role, 0)) for role in ROLES]}


def dashboard_setup_funnel() -> list[FunnelStep]:
    """How many active users reached each setup step: where people stop."""
    users = User.objects.filter(is_active=True).count()
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
    now = timezone.now()
    live = ProviderKey.objects.exclude(status=ProviderKey.Status.SUPERSEDED)
    soon = now + dt.timedelta(days=settings.KEY_EXPIRY_WARNING_DAYS)
    active = Q(status=ProviderKey.Status.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return live.aggregate(
        active=Count("id", filter=active),
        expired=Count(
            "id", filter=Q(status=ProviderKey.Status.EXPIRED) | Q(status=ProviderKey.Status.ACTIVE, expires_at__lte=now)
        ),
        revoked=Count("id", filter=Q(status=ProviderKey.Status.REVOKED)),
        expiring_soon=Count("id", filter=active & Q(expires_at__lte=soon)),
        rejected=Count("id", filter=Q(last_validation_result=ProviderKey.Validation.INVALID)),
    )


def dashboard_tokens() -> dict[str, int]:
    now = timezone.now()
    return PersonalAccessToken.objects.aggregate(
        active=Count("id", filter=Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))),
        expired=Count("id", filter=Q(revoked_at__isnull=True, expires_at__lte=now)),
        revoked=Count("id", filter=Q(revoked_at__isnull=False)),
        used_today=Count("id", filter=Q(last_used_at__gte=now - dt.timedelta(days=1))),
    )


def dashboard_tool_calls() -> dict[str, Any]:
    """Tool calls since midnight (UTC), with the tools that failed most."""
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = ToolCall.objects.filter(created_at__gte=since)
    totals = today.aggregate(
        calls=Count("id"), failures=Count("id", filter=Q(success=False)), cached=Count("id", filter=Q(cached=True))
    )
    failing = list(
        today.filter(success=False)
        .values("tool_name", "error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "tool_name")[:5]
    )
    disabled = list(ToolPolicy.objects.filter(enabled=False).values_list("tool_name", flat=True))
    return {**totals, "failing": failing, "disabled_tools": disabled}


def dashboard_schedules() -> list[PeriodicTask]:
    return list(PeriodicTask.objects.order_by("name")[:20])


def dashboard_audit(*, verify: bool) -> dict[str, Any]:
    day_ago = timezone.now() - dt.timedelta(days=1)
    counts = AuditEvent.objects.aggregate(
        total=Count("id"),
        today=Count("id", filter=Q(created_at__gte=day_ago)),
        denied_today=Count("id", filter=Q(created_at__gte=day_ago, outcome="denied")),
    )
    result = audit_chain_verify() if verify else None
    return {**counts, "verified": verify, "result": result, "intact": result is not None and result.intact}


def dashboard_top_users() -> dict[str, list]:
    """This month's top users by cost and by refused calls: the usage ledger's own ranking (apps.quotas)."""
    ranking = top_users()
    return {"by_cost": ranking["top_by_cost"][:5], "refused": ranking["top_refused"][:5]}


def _rate(hits: int, total: int) -> int | None:
    return round(100 * hits / total) if total else None


def dashboard_providers() -> dict[str, Any]:
    """Each provider's circuit breaker as Redis holds it now, and how often caches answered."""
    circuits = [
        {"circuit": circuit, "display_name": provider_spec_get(circuit.provider).display_name, **vars(snap)}
        for circuit in ProviderCircuit.objects.order_by("provider", "base_url")[:20]
        for snap in [circuit_snapshot(circuit)]
    ]
    stats = answer_cache_stats()
    hits = stats.get(L1_HIT, 0) + stats.get(L2_HIT, 0)
    lookups = hits + stats.get(MISS, 0)
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    tools = ToolCall.objects.filter(created_at__gte=since).aggregate(
        calls=Count("id"), cached=Count("id", filter=Q(cached=True))
    )
    return {
        "circuits": circuits,
        "open": sum(1 for row in circuits if row["state"] != "closed"),
        "answers": {**stats, "hits": hits, "lookups": lookups, "rate": _rate(hits, lookups)},
        "tools_rate": _rate(tools["cached"], tools["calls"]),
    }
