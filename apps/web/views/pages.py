"""Pages anyone may see."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/home.html",
        {"mcp_url": settings.MCP_RESOURCE_URL, "registration_open": settings.REGISTRATION_OPEN},
    )
