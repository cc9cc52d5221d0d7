"""The HTTP edge of the domain errors: one status per kind, DRF's exception handler and Django's
error views, all answering in the shape {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import csrf as django_csrf
from django.views import defaults as django_defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

from apps.core import errors
from apps.core.errors import (
    DomainError,
    database_unavailable,
    database_unavailable_logged,
    error_body,
    server_error_body,
)
from apps.core.limit_reports import refusal_headers
from apps.core.request_id import request_id_current

logger = logging.getLogger(__name__)

STATUS_BY_KIND: dict[str, int] = {
    errors.INVALID: status.HTTP_400_BAD_REQUEST,
    errors.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    errors.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    errors.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    errors.CONFLICT: status.HTTP_409_CONFLICT,
    errors.UNPROCESSABLE: status.HTTP_422_UNPROCESSABLE_ENTITY,
    errors.LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    errors.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def http_status(error: DomainError) -> int:
    return STATUS_BY_KIND[error.kind]


def _message_from_detail(detail: Any) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return str(detail["detail"])
        if detail.get("non_field_errors"):
            return str(detail["non_field_errors"][0])
        return "Some fields are invalid: " + ", ".join(sorted(str(key) for key in detail))
    if isinstance(detail, list):
        return str(detail[0]) if detail else "Invalid request."
    return str(detail)


def _details_from_detail(detail: Any) -> Any:
    if isinstance(detail, dict):
        cleaned = {key: value for key, value in detail.items() if key not in {"detail", "messages"}}
        return _plain(cleaned)
    if isinstance(detail, list) and len(detail) > 1:
        return {"errors": _plain(detail)}
    return {}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error leaves the API in the same shape."""
    if isinstance(exc, DomainError):
        headers = refusal_headers(exc)
        return Response(error_body(exc.code, exc.message, exc.details), status=http_status(exc), headers=headers)
    if database_unavailable(exc):
        unavailable = database_unavailable_logged(exc)
        return Response(
            error_body(unavailable.code, unavailable.message),
            status=http_status(unavailable),
            headers={"Retry-After": str(unavailable.retry_after)},
        )
    if isinstance(exc, RequestDataTooBig):
        # The ASGI edge refuses bodies over the same limit first; this covers any other way in.
        return Response(request_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied) and not isinstance(exc, drf_exceptions.APIException):
        exc = drf_exceptions.PermissionDenied()

    response = drf_default_handler(exc, context)
    if response is None:
        logger.error("Unhandled error in API view (request %s)", request_id_current(), exc_info=exc)
        return Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, drf_exceptions.ValidationError):
        code = "validation_error"
        message = "The request is invalid."
        details = _plain(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": _plain(exc.detail)}
    else:
        detail = getattr(exc, "detail", "")
        codes = exc.get_codes() if isinstance(exc, drf_exceptions.APIException) else "error"
        # DRF and simplejwt name the precise problem (not_authenticated, no_active_account, ...).
        code = codes if isinstance(codes, str) else "error"
        message = _message_from_detail(detail)
        details = _details_from_detail(detail)
        if isinstance(detail, dict) and detail.get("code"):
            code = str(detail["code"])
    response.data = error_body(code, message, details)
    return response


def json_or_html_error_view(status_code: int, code: str, message: str, html_view):
    """Django-level error handlers: API paths answer in the API's shape, pages stay HTML."""

    def view(request: HttpRequest, *args: Any, **kwargs: Any):
        if request.path.startswith("/api/"):
            return JsonResponse(error_body(code, message), status=status_code)
        return html_view(request, *args, **kwargs)

    return view


def request_too_large_body() -> dict[str, Any]:
    from django.conf import settings

    limit = settings.MAX_REQUEST_BODY_BYTES
    return error_body("request_too_large", f"The request body is larger than {limit} bytes.", {"limit_bytes": limit})


# Exempt: CSRF protection guards views that act, and this one only says there is nothing here. Without
# it a write to an unknown /api/ path would get Django's HTML CSRF page instead of the JSON 404.
@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: API paths answer in the API's shape; pages keep Django's explanation."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("csrf_failed", "CSRF verification failed; send the CSRF token or use a bearer token."),
            status=403,
        )
    return django_csrf.csrf_failure(request, reason=reason)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """handler500. Django calls it inside its `except`, so the exception is at hand: a database that
    cannot serve is a 503 with Retry-After, anything else a generic 500 with the request id."""
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        unavailable = database_unavailable_logged(exc)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                error_body(unavailable.code, unavailable.message), status=http_status(unavailable)
            )
        else:
            response = HttpResponse(
                "<h1>Service unavailable</h1><p>Please try again in a moment.</p>",
                status=http_status(unavailable),
            )
        response["Retry-After"] = str(unavailable.retry_after)
        return response
    if request.path.startswith("/api/"):
        return JsonResponse(server_error_body(), status=500)
    return django_defaults.server_error(request)
