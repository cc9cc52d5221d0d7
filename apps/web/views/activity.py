"""/settings/activity/: the user's own audit events (apps.audit's selectors), filtered, paged, exported.

Always the user's own trail, also for an operator: everyone's events are the admin's business.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.audit import selectors
from apps.audit.exports import CONTENT_TYPES, EXPORT_FORMATS, audit_export_lines
from apps.web.forms import ActivityFilterForm
from apps.web.views.common import render_page, signed_in_page

PAGE_SIZE = 50


def _cursor(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _filter_query(form: ActivityFilterForm) -> str:
    """The filters as a query string, for the next-page and export links."""
    query = form.data.copy()
    for name in ("before", "format"):
        query.pop(name, None)
    return query.urlencode()


@signed_in_page
def activity_page(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET)
    rows: list[dict] = []
    next_cursor = None
    total = 0
    if form.is_valid():
        events = selectors.audit_events_filtered(user=request.user, filters=form.filters(), own_only=True)
        rows, next_cursor = selectors.audit_page(events=events, before_id=_cursor(request), limit=PAGE_SIZE)
        total = events.count()
    context = {
        "form": form,
        "rows": rows,
        "total": total,
        "next_cursor": next_cursor,
        "query": _filter_query(form),
        "formats": EXPORT_FORMATS,
    }
    return render_page(request, "web/settings/activity.html", context)


@signed_in_page
def activity_export(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET)
    export_format = request.GET.get("format", "csv")
    if export_format not in EXPORT_FORMATS:
        return HttpResponse("Export as csv or ndjson.", status=400, content_type="text/plain; charset=utf-8")
    if not form.is_valid():
        context = {"form": form, "rows": [], "total": 0, "query": "", "formats": EXPORT_FORMATS}
        return render(request, "web/settings/activity.html", context, status=400)
    events = selectors.audit_events_filtered(user=request.user, filters=form.filters(), own_only=True)
    lines = audit_export_lines(rows=selectors.audit_rows_walk(events=events), export_format=export_format)
    response = StreamingHttpResponse(lines, content_type=CONTENT_TYPES[export_format])
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="activity-{stamp}.{export_format}"'
    return response
