"""DRF's throttle hook for the REST resource API, and the middleware that writes the RateLimit headers.

DRF runs throttles after authentication and permissions, so the limit is the signed-in caller's.
Views that call the tool pipeline set `quota_in_pipeline = True`: the pipeline counts the call
(with the tool's own limit) in the same round trip, and the view hands the decision on.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from apps.core.client_address import client_address

# DRF imports this module while apps.core.errors (which the services need) is still loading, so the
# services are imported where they are used.

DECISION_ATTRIBUTE = "quota_decision"


def decision_attach(request, decision) -> None:
    """Remember the decision on the Django request (DRF's Request wraps it) for the header middleware."""
    if decision is None:
        return
    django_request = getattr(request, "_request", request)
    setattr(django_request, DECISION_ATTRIBUTE, decision)


class QuotaThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        from apps.core.limit_reports import RateLimitExceeded
        from apps.quotas.services import quota_request_check

        if getattr(view, "quota_in_pipeline", False):
            return True
        try:
            decision = quota_request_check(user=request.user, address=client_address(request))
        except RateLimitExceeded as refused:
            decision_attach(request, refused.decision)
            raise
        decision_attach(request, decision)
        return True


def rate_limit_headers_middleware(get_response: Callable[[HttpRequest], HttpResponse]):
    from apps.core.limit_reports import rate_limit_headers

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        decision = getattr(request, DECISION_ATTRIBUTE, None)
        # A refusal by another limit (a sign-up or password throttle) already wrote its own figures.
        if decision is not None and "RateLimit-Policy" not in response:
            for name, value in rate_limit_headers(decision).items():
                response[name] = value
        return response

    return middleware
