"""/settings/connections/: the apps connected with OAuth (Claude, ChatGPT, VS Code, Cursor...), and Disconnect."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.accounts.oauth import connections as oauth_connections
from apps.web.views.common import render_page, signed_in_page


@signed_in_page
def connection_list(request: HttpRequest) -> HttpResponse:
    context = {
        "connections": oauth_connections.connection_list(user=request.user),
        "mcp_url": settings.MCP_RESOURCE_URL,
    }
    return render_page(request, "web/settings/connections.html", context)


@require_POST
@signed_in_page
def connection_disconnect(request: HttpRequest, connection_id: int) -> HttpResponse:
    """Every token of the connection stops working at once, on every door."""
    oauth_connections.connection_disconnect(user=request.user, connection_id=connection_id)
    messages.success(request, "Disconnected: the app's access is revoked. It must ask you again to reconnect.")
    return redirect("web:connections")
