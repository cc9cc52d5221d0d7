"""Who this server is to OAuth clients: the issuer and the one resource its tokens are for.

Read from settings at each call (not at import), so the values follow PUBLIC_BASE_URL.
"""

from __future__ import annotations

from django.conf import settings

from apps.accounts.scopes import SCOPES

# The RFC 9728 path-suffixed metadata location for the resource /mcp.
PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"


def oauth_issuer() -> str:
    return settings.PUBLIC_BASE_URL


def mcp_resource_url() -> str:
    """The canonical MCP URL (RFC 8707): the only `resource` an authorization or token request may name."""
    return settings.MCP_RESOURCE_URL


def rest_resource_url() -> str:
    """The audience an OAuth token would need to be accepted by the REST API (none is issued today)."""
    return f"{settings.PUBLIC_BASE_URL}/api"


def resource_metadata_url() -> str:
    """Where /mcp's RFC 9728 metadata lives (the path-suffixed form for the resource's path)."""
    return f"{settings.PUBLIC_BASE_URL}{PROTECTED_RESOURCE_METADATA_PATH}/mcp"


def scopes_supported() -> list[str]:
    return sorted(SCOPES)
