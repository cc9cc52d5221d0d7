"""GET /api/audit/logs, /api/audit/export and /api/audit/reports: thin views over the selectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors
from apps.audit.exports import CONTENT_TYPES, audit_export_lines
from apps.audit.reports import audit_report
from apps.audit.serializers import (
    AuditExportQuerySerializer,
    AuditLogPageSerializer,
    AuditLogQuerySerializer,
    AuditLogSerializer,
    AuditReportQuerySerializer,
)
from apps.core.schema import error_responses

# Personal access tokens with this scope may read the caller's own trail (the scope name is
# accounts' vocabulary; audit sits below accounts and names it rather than importing it).
PROFILE_READ = "profile:read"
REPORT_DEFAULT_DAYS = 7
# The media types the export sends, as documented (without the charset parameter CSV carries).
EXPORT_MEDIA_TYPES = sorted({content_type.split(";")[0] for content_type in CONTENT_TYPES.values()})
EXPORT_DESCRIPTION = "By `format`: CSV (a header row, then a row per event) or NDJSON (one JSON object per line)."


def _query(serializer_class: type, request: Request) -> Any:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer


class AuditLogView(APIView):
    """Your audit events, newest first; auditors and operators see everyone's."""

    read_scope = PROFILE_READ

    @extend_schema(parameters=[AuditLogQuerySerializer], responses={200: AuditLogPageSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        query = _query(AuditLogQuerySerializer, request)
        events = selectors.audit_events_filtered(user=request.user, filters=query.filters())
        limit = query.validated_data["limit"]
        rows, next_cursor = selectors.audit_page(
            events=events, before_id=query.validated_data.get("cursor"), limit=limit
        )
        return Response(
            {
                "logs": AuditLogSerializer(rows, many=True).data,
                "total_count": events.count(),
                "pagination": {"limit": limit, "next_cursor": next_cursor, "has_more": next_cursor is not None},
            }
        )


class _JsonErrorsOnly(DefaultContentNegotiation):
    """`?format=` is this endpoint's own parameter, not DRF's renderer override; errors are JSON."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class AuditExportView(APIView):
    """The same filters as the list, every matching event, streamed (CSV or NDJSON)."""

    read_scope = PROFILE_READ
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonErrorsOnly

    @extend_schema(
        parameters=[AuditExportQuerySerializer],
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.STR, description=EXPORT_DESCRIPTION)
            for media_type in EXPORT_MEDIA_TYPES
        }
        | error_responses(),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = _query(AuditExportQuerySerializer, request)
        events = selectors.audit_events_filtered(user=request.user, filters=query.filters())
        rows = selectors.audit_rows_walk(events=events)
        export_format = query.validated_data["format"]
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            audit_export_lines(rows=rows, export_format=export_format), content_type=CONTENT_TYPES[export_format]
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{export_format}"'
        response["Cache-Control"] = "no-store"
        return response


class AuditReportView(APIView):
    """Counts, failure rates, durations, tokens and cost, sign-in success, key-exposure scan.

    Over your own events; auditors and operators get the whole service's."""

    read_scope = PROFILE_READ

    @extend_schema(parameters=[AuditReportQuerySerializer], responses={200: OpenApiTypes.OBJECT, **error_responses()})
    def get(self, request: Request) -> Response:
        query = _query(AuditReportQuerySerializer, request)
        until = query.validated_data.get("until") or timezone.now()
        since = query.validated_data.get("since") or until - dt.timedelta(days=REPORT_DEFAULT_DAYS)
        events = selectors.audit_events_visible(user=request.user)
        return Response(audit_report(events=events, since=since, until=until))
