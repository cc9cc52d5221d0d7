"""The bare reference servers for bench_http.py: the MCP SDK's own MCPServer, stateless Streamable HTTP
with JSON responses, one tool, none of the gateway's pipeline.

    python bench/bare_server.py --port 8101 --kind constant
    python bench/bare_server.py --port 8102 --kind tool --tool todo_overview --user-id 7

constant  a tool returning a constant: the SDK's own cost per call, the floor for everything else.
tool      the registry's function for `--tool`, called for one fixed user: the same database work
          as the gateway's call, with the same per-request Django thread and connection handling
          (DjangoRequestLifecycle, database_work), and no authentication, policy, schema check,
          rate limit, cache, usage record or audit.

Served by uvicorn with the same loop and HTTP parser as scripts/web.sh, so only the app differs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _with_lifespan(app, starlette_app):
    """Requests to `app`, the ASGI lifespan (the session manager's task group) to the Starlette app."""

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            await starlette_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi


def _http_app(server):
    from mcp.server.transport_security import TransportSecuritySettings

    return server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def constant_app():
    from mcp.server.mcpserver import MCPServer

    # WARNING as in the gateway (settings.LOGGING): the SDK logs every stateless request at INFO.
    server = MCPServer("bare-constant", log_level="WARNING")

    @server.tool(name="constant", description="Returns the same small object every time.")
    def constant() -> dict:
        return {"ok": True, "answer": 42}

    return _http_app(server)


def tool_app(tool_name: str, user_id: int):
    import django

    django.setup()
    from mcp.server.mcpserver import MCPServer

    from apps.accounts.models import User
    from apps.accounts.principal import principal_for_user
    from apps.core.database import database_work
    from apps.mcp_tools.pipeline.registry import tool_get
    from apps.mcp_tools.transport.http import DjangoRequestLifecycle

    spec = tool_get(tool_name)
    if spec is None:
        raise SystemExit(f"no tool called {tool_name!r}")
    principal = principal_for_user(User.objects.get(pk=user_id), auth_method="jwt")
    server = MCPServer("bare-tool", log_level="WARNING")

    async def tool() -> dict:
        return await database_work(spec.func, principal)

    server.add_tool(tool, name=tool_name, description=spec.description)
    app = _http_app(server)
    return _with_lifespan(DjangoRequestLifecycle(app), app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=["constant", "tool"], required=True)
    parser.add_argument("--tool", default="todo_overview")
    parser.add_argument("--user-id", type=int)
    args = parser.parse_args()
    import uvicorn

    if args.kind == "constant":
        app = constant_app()
    else:
        if args.user_id is None:
            parser.error("--kind tool needs --user-id")
        app = tool_app(args.tool, args.user_id)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
