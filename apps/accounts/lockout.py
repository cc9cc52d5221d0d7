"""What a locked-out client sees, for the JWT endpoint and the admin login alike."""

from __future__ import annotations

from typing import Any

from axes.conf import settings as axes_settings
from axes.exceptions import AxesBackendPermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.response import Response

from apps.core.errors import error_body


def _cooloff_seconds() -> int:
    return int(axes_settings.AXES_COOLOFF_TIME.total_seconds())


def _message() -> str:
    minutes = max(1, _cooloff_seconds() // 60)
    return f"Too many failed login attempts. Try again in {minutes} minutes."


def lockout_response(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None):
    """AXES_LOCKOUT_CALLABLE: used by the axes middleware for plain Django views (the admin)."""
    seconds = _cooloff_seconds()
    if request.path.startswith("/api/"):
        result: HttpResponse = JsonResponse(
            error_body("locked_out", _message(), {"retry_after_seconds": seconds}), status=429
        )
    else:
        result = render(request, "accounts/lockout.html", {"message": _message()}, status=429)
    result["Retry-After"] = str(seconds)
    return result


def lockout_error(exc: Exception, request: Any) -> Response | None:
    """For DRF views: turn axes' PermissionDenied into the API's 429 with the lockout time."""
    if not isinstance(exc, AxesBackendPermissionDenied):
        return None
    seconds = _cooloff_seconds()
    return Response(
        error_body("locked_out", _message(), {"retry_after_seconds": seconds}),
        status=429,
        headers={"Retry-After": str(seconds)},
    )
