"""Ready-to-paste MCP client configurations for this server: Claude Desktop, Cursor, the MCP Inspector.

Pure functions of the server's public URL and a token (the real one right after it was created,
else a placeholder): the pages show them, they never store them.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

TOKEN_PLACEHOLDER = "gw_pat_YOUR_TOKEN"  # noqa: S105 - what the page shows in place of a token
SERVER_NAME = "todo-gateway"
CLAUDE_CONFIG_WHERE = (
    "claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\)"
)


@dataclass(frozen=True)
class ClientConfig:
    slug: str
    client: str
    transport: str
    where: str
    text: str


def _json(value: object) -> str:
    return json.dumps(value, indent=2)


def remote_connector_configs(*, mcp_url: str) -> list[ClientConfig]:
    """Clients that sign in with OAuth (browser, consent page): only the URL is entered, no token."""
    steps = "Sign in here when the app opens this server's page, check what it asks for, and press Allow."
    return [
        ClientConfig(
            slug="claude-remote",
            client="Claude (claude.ai or Desktop)",
            transport="Remote connector (OAuth sign-in)",
            where="Settings → Connectors → Add custom connector; paste the URL. " + steps,
            text=mcp_url,
        ),
        ClientConfig(
            slug="chatgpt-remote",
            client="ChatGPT",
            transport="Remote connector (OAuth sign-in)",
            where="Settings → Apps & Connectors → Advanced settings → Developer mode, then Create: paste the URL, "
            "authentication OAuth. " + steps,
            text=mcp_url,
        ),
        ClientConfig(
            slug="vscode-remote",
            client="VS Code",
            transport="Remote connector (OAuth sign-in)",
            where=".vscode/mcp.json in your workspace (or MCP: Add Server → HTTP). " + steps,
            text=_json({"servers": {SERVER_NAME: {"type": "http", "url": mcp_url}}}),
        ),
        ClientConfig(
            slug="cursor-remote",
            client="Cursor",
            transport="Remote connector (OAuth sign-in)",
            where="~/.cursor/mcp.json (or Settings → MCP → Add new MCP server). " + steps,
            text=_json({"mcpServers": {SERVER_NAME: {"url": mcp_url}}}),
        ),
    ]


def client_configs(*, mcp_url: str, token: str | None, checkout: str) -> list[ClientConfig]:
    """Each client in its HTTP form and (where it has one) its stdio form."""
    token = token or TOKEN_PLACEHOLDER
    python = f"{checkout}/.venv/bin/python"
    manage = f"{checkout}/manage.py"
    stdio_server = {
        "command": python,
        "args": [manage, "mcp_stdio"],
        "env": {"GATEWAY_TOKEN": token, "APP_ENV": "development"},
    }
    return [
        ClientConfig(
            slug="claude-http",
            client="Claude Desktop",
            transport="HTTP (through mcp-remote)",
            where=CLAUDE_CONFIG_WHERE,
            text=_json(
                {
                    "mcpServers": {
                        SERVER_NAME: {
                            "command": "npx",
                            "args": ["-y", "mcp-remote", mcp_url, "--header", "Authorization:${AUTH_HEADER}"],
                            "env": {"AUTH_HEADER": f"Bearer {token}"},
                        }
                    }
                }
            ),
        ),
        ClientConfig(
            slug="claude-stdio",
            client="Claude Desktop",
            transport="stdio (a checkout of this server on the same machine)",
            where="claude_desktop_config.json",
            text=_json({"mcpServers": {SERVER_NAME: stdio_server}}),
        ),
        ClientConfig(
            slug="cursor-http",
            client="Cursor",
            transport="HTTP",
            where="~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            text=_json(
                {"mcpServers": {SERVER_NAME: {"url": mcp_url, "headers": {"Authorization": f"Bearer {token}"}}}}
            ),
        ),
        ClientConfig(
            slug="cursor-stdio",
            client="Cursor",
            transport="stdio",
            where="~/.cursor/mcp.json",
            text=_json({"mcpServers": {SERVER_NAME: stdio_server}}),
        ),
        ClientConfig(
            slug="inspector-http",
            client="MCP Inspector",
            transport="HTTP (Streamable HTTP)",
            where="a terminal; or in its page choose Streamable HTTP, this URL and an Authorization header",
            text=" ".join(
                [
                    "npx @modelcontextprotocol/inspector --cli",
                    shlex.quote(mcp_url),
                    "--transport http",
                    "--header",
                    shlex.quote(f"Authorization: Bearer {token}"),
                    "--method tools/list",
                ]
            ),
        ),
        ClientConfig(
            slug="inspector-stdio",
            client="MCP Inspector",
            transport="stdio",
            where="a terminal",
            text=" ".join(
                [
                    "npx @modelcontextprotocol/inspector",
                    "-e",
                    shlex.quote(f"GATEWAY_TOKEN={token}"),
                    "-e APP_ENV=development",
                    shlex.quote(python),
                    shlex.quote(manage),
                    "mcp_stdio",
                ]
            ),
        ),
    ]
