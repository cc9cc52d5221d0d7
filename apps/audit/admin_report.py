"""The admin's audit report page (/admin/audit/report/): the same report as GET /api/audit/reports,
for holders of audit.view_auditevent (auditors and operators)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.reports import audit_report
from apps.audit.selectors import audit_events_visible

REPORT_DEFAULT_DAYS = 7


def _time(raw: str | None) -> dt.datetime | None:
    parsed = parse_datetime(raw) if raw else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def audit_report_view(request: HttpRequest, *, site) -> HttpResponse:
    if not request.user.has_perm("audit.view_auditevent"):
        raise PermissionDenied
    until = _time(request.GET.get("until")) or timezone.now()
    since = _time(request.GET.get("since")) or until - dt.timedelta(days=REPORT_DEFAULT_DAYS)
    report = audit_report(events=audit_events_visible(user=request.user), since=since, until=until)
    groups = [
        ("Per category", report["per_category"]),
        ("Per tool", report["per_tool"]),
        ("Per provider", report["per_provider"]),
    ]
    context = {
        **site.each_context(request),
        "title": "Audit report",
        "report": report,
        "groups": groups,
        "since_input": since.strftime("%Y-%m-%dT%H:%M"),
        "until_input": until.strftime("%Y-%m-%dT%H:%M"),
    }
    return TemplateResponse(request, "admin/audit/report.html", context)
