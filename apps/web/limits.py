"""Pages are a door like the REST API: every page request counts against the caller's rate across all
doors (the client address's when signed out), through the same quotas service and with the same
RateLimit headers, so a limit cannot be dodged by using the pages instead of the API."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern

from apps.core.client_address import client_address
from apps.core.errors import RateLimited, ServiceUnavailable
from apps.core.limit_reports import RateLimitExceeded, refusal_headers
from apps.quotas.services import quota_request_check
from apps.quotas.throttle import decision_attach


def page_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            decision_attach(request, quota_request_check(user=request.user, address=client_address(request)))
        except (RateLimited, ServiceUnavailable) as refused:
            if isinstance(refused, RateLimitExceeded):
                decision_attach(request, refused.decision)
            limited = isinstance(refused, RateLimited)
            response = render(
                request,
                "web/refused.html",
                {"limited": limited, "message": refused.message, "retry_after": refused.retry_after},
                status=429 if limited else 503,
            )
            for name, value in refusal_headers(refused).items():
                response[name] = value
            return response
        return view(request, *args, **kwargs)

    return wrapped


def limited_patterns(patterns: Iterable[URLPattern]) -> list[URLPattern]:
    """Every page of the list behind the caller's rate limit."""
    patterns = list(patterns)
    for pattern in patterns:
        pattern.callback = page_rate_limited(pattern.callback)
    return patterns
