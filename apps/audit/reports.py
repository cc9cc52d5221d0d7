"""The audit report: per day and category, per tool and provider counts, failure rates, p50/p95
duration, tokens and cost per user, the daily sign-in success rate, and a key-exposure scan.

Counts and sums are aggregated by the database; percentiles by PostgreSQL's percentile_cont where
it is there, else from the durations in Python (the embedded SQLite default, small data).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from apps.audit.masking import holds_secret
from apps.audit.models import AuditEvent
from apps.core.aggregates import DecimalSum

SIGN_IN_ACTIONS = ("auth.login", "auth.login_failed")
# The seed's target for the daily authentication success rate.
AUTH_SUCCESS_TARGET = 0.999


class _Percentile(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, percentile: float) -> None:
        super().__init__(expression, percentile=percentile)


def _rate(failed: int, total: int) -> float:
    return round(failed / total, 4) if total else 0.0


def _grouped(events: QuerySet[AuditEvent], key: str) -> list[dict[str, Any]]:
    failed = Count("id", filter=~Q(outcome=AuditEvent.Outcome.SUCCESS))
    totals: dict[str, Any] = {
        "count": Count("id"),
        "failed": failed,
        "tokens": Sum("tokens"),
        "cost": DecimalSum("cost"),
    }
    if connection.vendor == "postgresql":
        totals |= {"p50_ms": _Percentile("duration_ms", 0.5), "p95_ms": _Percentile("duration_ms", 0.95)}
    rows = list(events.values(key).annotate(**totals).order_by(key))
    if connection.vendor != "postgresql":
        durations: dict[str, list[float]] = defaultdict(list)
        for name, duration in events.exclude(duration_ms=None).values_list(key, "duration_ms"):
            durations[name].append(duration)
        for row in rows:
            values = sorted(durations.get(row[key], []))
            row["p50_ms"] = statistics.median(values) if values else None
            row["p95_ms"] = values[min(len(values) - 1, int(len(values) * 0.95))] if values else None
    return [
        {
            "name": row[key],
            "count": row["count"],
            "failure_rate": _rate(row["failed"], row["count"]),
            "p50_ms": round(row["p50_ms"], 3) if row["p50_ms"] is not None else None,
            "p95_ms": round(row["p95_ms"], 3) if row["p95_ms"] is not None else None,
            "tokens": row["tokens"] or 0,
            "cost": str(row["cost"] or Decimal(0)),
        }
        for row in rows
    ]


def _exposure_scan(events: QuerySet[AuditEvent]) -> dict[str, Any]:
    """Events in the window holding anything that looks like a key or token in any stored text."""
    text_fields = ("actor_label", "action", "error_code", "target_type", "target_id", "user_agent", "data")
    found: list[int] = []
    scanned = 0
    for row in events.values_list("id", *text_fields).iterator(chunk_size=2000):
        scanned += 1
        if any(holds_secret(str(value)) for value in row[1:]):
            found.append(row[0])
    return {"scanned": scanned, "exposed": len(found), "event_ids": found[:20], "clean": not found}


def audit_report(*, events: QuerySet[AuditEvent], since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    window = events.filter(created_at__gte=since, created_at__lt=until)
    per_day = [
        {
            "day": row["day"].isoformat(),
            "category": row["category"],
            "count": row["count"],
            "failure_rate": _rate(row["failed"], row["count"]),
        }
        for row in window.annotate(day=TruncDate("created_at"))
        .values("day", "category")
        .annotate(count=Count("id"), failed=Count("id", filter=~Q(outcome=AuditEvent.Outcome.SUCCESS)))
        .order_by("day", "category")
    ]
    sign_ins = (
        window.filter(action__in=SIGN_IN_ACTIONS)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Count("id"), succeeded=Count("id", filter=Q(outcome=AuditEvent.Outcome.SUCCESS)))
        .order_by("day")
    )
    per_user = (
        window.exclude(tokens=None, cost=None)
        .values("actor_label")
        .annotate(tokens=Sum("tokens"), cost=DecimalSum("cost"), calls=Count("id"))
        .order_by("-cost", "actor_label")
    )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total": window.count(),
        "per_day": per_day,
        "per_category": _grouped(window, "category"),
        "per_tool": _grouped(window.filter(category=AuditEvent.Category.TOOL), "target_id"),
        "per_provider": _grouped(window.filter(category=AuditEvent.Category.PROVIDER), "target_id"),
        "per_user": [
            {
                "user": row["actor_label"],
                "calls": row["calls"],
                "tokens": row["tokens"] or 0,
                "cost": str(row["cost"] or 0),
            }
            for row in per_user
        ],
        "auth_success_rate": [
            {
                "day": row["day"].isoformat(),
                "attempts": row["total"],
                "success_rate": round(row["succeeded"] / row["total"], 4),
                "meets_target": row["succeeded"] / row["total"] >= AUTH_SUCCESS_TARGET,
            }
            for row in sign_ins
        ],
        "auth_success_target": AUTH_SUCCESS_TARGET,
        "key_exposure": _exposure_scan(window),
    }
