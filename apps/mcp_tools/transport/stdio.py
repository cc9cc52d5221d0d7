"""MCP over stdio: the same server, with the personal access token verified again on every request."""

from __future__ import annotations

from typing import Any

from django.db import close_old_connections
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from apps.accounts.principal import Principal, principal_from_bearer
from apps.core.database import database_work
from apps.core.errors import Unauthenticated
from apps.mcp_tools.transport.server import UNAUTHENTICATED_ERROR, PrincipalSource, protocol_error, server_build


def stdio_principal_source(raw_token: str) -> PrincipalSource:
    """Verify the stdio token on every request, in a fresh DB connection state each time."""

    def verify() -> Principal:
        close_old_connections()
        return principal_from_bearer(raw_token)

    async def source(ctx: ServerRequestContext[Any, Any]) -> Principal:
        try:
            return await database_work(verify)
        except Unauthenticated as exc:
            raise MCPError(code=UNAUTHENTICATED_ERROR, message=f"{exc.code}: {exc.message}") from None
        except Exception as exc:
            raise protocol_error(exc) from None

    return source


async def stdio_serve(raw_token: str) -> None:
    from mcp.server.stdio import stdio_server

    server = server_build(principal_source=stdio_principal_source(raw_token), transport="mcp-stdio")
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
