"""Login lockout for the JWT endpoint and the admin login alike: who is locked, and what they see."""

from __future__ import annotations

from typing import Any

from axes.conf import settings as axes_settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit, get_lockout_parameters
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.core.errors import RateLimited, error_body


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


def lockout_error() -> RateLimited:
    """For the JWT endpoint: axes' lockout as the API's 429 with the lockout time."""
    seconds = _cooloff_seconds()
    return RateLimited(_message(), retry_after=seconds, details={"retry_after_seconds": seconds}, code="locked_out")


class GatewayAxesHandler(AxesDatabaseHandler):
    """axes' database handler with a separate, higher limit for a username across all addresses.

    axes compares the largest failure count of its lockout parameters with one limit. We lock the
    (username, address) pair at AXES_FAILURE_LIMIT, as before, and the username alone at
    AXES_USERNAME_FAILURE_LIMIT: credential stuffing spreads guesses over many addresses, while one
    shared limit would let anyone lock a victim out with a handful of guesses.
    """

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        failures = 0
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "username":
                if count >= axes_settings.AXES_USERNAME_FAILURE_LIMIT:
                    failures = max(failures, limit)
            else:
                failures = max(failures, count)
        return failures

    def reset_user_attempts(self, request: Any, credentials: dict | None = None) -> int:
        """On a successful login, forget the caller's own (username, address) failures only.

        axes would also delete the username's failures from every other address, handing a
        credential-stuffing run a fresh budget each time the real owner signs in.
        """
        parameters = get_lockout_parameters(request, credentials)
        count = 0
        for parameter, attempts in zip(parameters, self.filter_user_attempts(request, credentials), strict=True):
            if parameter != "username":
                deleted, _ = attempts.delete()
                count += deleted
        return count
