"""What every page view shares: sign-in required, NotFound as a 404 page, refusals as messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from apps.core.errors import DomainError, NotFound, RateLimited
from apps.core.http_errors import http_status
from apps.core.limit_reports import refusal_headers


def signed_in_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page for the signed-in user: anonymous visitors go to the login page; another user's object,
    like a missing one, is a 404; nothing is cached (pages show the user's own data)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404("No such object.") from None

    return never_cache(login_required(wrapped))


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, error: DomainError | None = None
) -> HttpResponse:
    """Render a page; a page answering a refused action keeps the refusal's status (400, 409, 429, ...)."""
    response = render(request, template, context, status=http_status(error) if error is not None else 200)
    if isinstance(error, RateLimited):
        for name, value in refusal_headers(error).items():
            response[name] = value
    return response
