"""A live ASGI server for the transport tests, and tokens to call it with.

`asgi_server` runs uvicorn with config.asgi:application (Django plus /mcp) on a free port of
127.0.0.1, in a thread of the test process, so it sees the test database. The tests that use it
take `transactional_db`: rows must be committed for the server thread to see them.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2
import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from apps.providers.tests.conftest import fake_provider  # noqa: F401 - the loopback providers, for the AI tool tests

STARTUP_DEADLINE_SECONDS = 20


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@pytest.fixture
async def close_sync_thread_connections() -> AsyncIterator[None]:
    """Close the DB connection an async test's ORM calls opened on asgiref's shared sync thread.

    That thread outlives the test; a connection left open there keeps PostgreSQL from dropping
    the test database at the end of the session.
    """
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[LiveServer]:
    from config.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # As deployed (--no-proxy-headers): the app alone decides what X-Forwarded-For is worth.
    config = uvicorn.Config(application, lifespan="on", log_level="warning", access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The live ASGI server did not start.")
        time.sleep(0.01)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_DEADLINE_SECONDS)
        sock.close()


@asynccontextmanager
async def mcp_client(
    url: str, token: str | None, *, mode: str = "legacy", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """The official SDK client over Streamable HTTP, with a bearer token on every request."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with (
        httpx2.AsyncClient(headers=all_headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


def pat_for(user, *, scopes: list[str] | None = None, name: str = "test client") -> str:
    from apps.accounts.scopes import scopes_for_user
    from apps.accounts.services import pat_create

    _row, plaintext = pat_create(
        user=user, name=name, scopes=sorted(scopes_for_user(user)) if scopes is None else scopes
    )
    return plaintext


def jwt_for(user, *, expired: bool = False) -> str:
    from apps.accounts.tokens import jwt_pair_issue

    token = jwt_pair_issue(user=user).access
    if expired:
        token.set_exp(from_time=timezone.now() - dt.timedelta(hours=1))
    return str(token)


@pytest.fixture
def alice_pat(alice) -> str:
    return pat_for(alice)


@pytest.fixture
def alice_jwt(alice) -> str:
    return jwt_for(alice)
