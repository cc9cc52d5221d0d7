"""Serve the MCP tools over stdio for desktop clients that launch a command (Claude Desktop, Cursor).

The caller is the owner of the personal access token in GATEWAY_TOKEN. stdout is the protocol
stream, so this command never writes to it: refusals go to stderr and logging goes to stderr.
"""

from __future__ import annotations

import os

import anyio
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from apps.accounts.pats import PAT_PREFIX
from apps.accounts.principal import principal_from_bearer
from apps.core.errors import Unauthenticated
from apps.mcp_tools.transport.stdio import stdio_serve

TOKEN_VARIABLE = "GATEWAY_TOKEN"  # noqa: S105 - the variable's name, not a secret


class Command(BaseCommand):
    help = f"Serve the MCP tools over stdio as the owner of the personal access token in {TOKEN_VARIABLE}."
    # Checks would only slow every desktop-client launch; the web process runs them.
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        raw_token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not raw_token:
            raise CommandError(
                f"{TOKEN_VARIABLE} is not set. Create a personal access token with POST /api/auth/tokens "
                f"(signed in with a JWT from POST /api/auth/token; see the README's MCP section) and put it in "
                f"{TOKEN_VARIABLE} in the client's configuration."
            )
        if not raw_token.startswith(PAT_PREFIX):
            # A JWT would stop working within minutes, in the middle of a desktop session.
            raise CommandError(f"{TOKEN_VARIABLE} must be a personal access token (it starts with {PAT_PREFIX}).")
        try:
            principal = principal_from_bearer(raw_token)
        except Unauthenticated as exc:
            raise CommandError(f"{TOKEN_VARIABLE} was refused: {exc.message} ({exc.code})") from None
        self.stderr.write(
            f"MCP stdio server ready for {principal.user.get_username()} "
            f"(scopes: {', '.join(sorted(principal.scopes)) or 'none'})."
        )
        # Requests run on asgiref's sync thread and open their own connection there.
        connections.close_all()
        anyio.run(stdio_serve, raw_token)
