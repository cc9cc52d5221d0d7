"""ASGI entry point: Django, with the MCP Streamable HTTP app mounted at /mcp beside it.

Served by uvicorn (`uvicorn config.asgi:application`). Django's ASGI handler does not speak the
lifespan protocol, so this small router answers lifespan itself and runs the startup/shutdown
hooks that mounted apps register (the MCP session manager needs one).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup(set_prefix=False)

from apps.core.edge import Edge  # noqa: E402 - needs Django set up
from apps.core.request_threads import PooledThreadASGIHandler  # noqa: E402

# What get_asgi_application() returns, except that each request's thread comes from a pool.
django_application = PooledThreadASGIHandler()

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def _mounts() -> list[tuple[str, ASGIApp, Callable[[], Any] | None]]:
    # Imported after django.setup(): the MCP app uses models, so Django must be set up.
    from apps.mcp_tools.transport.http import MCP_PATH, http_app, protected_resource_metadata_app

    mcp_app, mcp_lifetime = http_app()
    return [
        (MCP_PATH, mcp_app, mcp_lifetime),
        # RFC 9728 metadata for /mcp, at the root and in the path-suffixed form.
        ("/.well-known/oauth-protected-resource", protected_resource_metadata_app, None),
    ]


# (path prefix, ASGI app, async context manager factory run for the app's lifetime or None)
MOUNTS: list[tuple[str, ASGIApp, Callable[[], Any] | None]] = _mounts()


async def _lifespan(scope: Scope, receive: Callable, send: Callable) -> None:
    stack = AsyncExitStack()
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                for _prefix, _app, lifetime in MOUNTS:
                    if lifetime is not None:
                        await stack.enter_async_context(lifetime())
            except Exception as exc:
                await stack.aclose()
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stack.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _routed(scope: Scope, receive: Callable, send: Callable) -> None:
    path = scope.get("path", "")
    for prefix, app, _lifetime in MOUNTS:
        if path == prefix or path.startswith(prefix + "/"):
            await app(scope, receive, send)
            return
    await django_application(scope, receive, send)


# Every HTTP request passes the edge first: request id, body limit and deadline, last-resort error shape.
_edge = Edge(_routed)


async def application(scope: Scope, receive: Callable, send: Callable) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(scope, receive, send)
        return
    await _edge(scope, receive, send)
