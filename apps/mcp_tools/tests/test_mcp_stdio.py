"""`manage.py mcp_stdio` as a desktop client runs it: a subprocess driven by the SDK's stdio client.

The subprocess uses the test database (DATABASE_URL built from the test connection), so the tests
take `transactional_db`: the token and todos must be committed for it to see them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import execute_from_command_line
from django.db import connection
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from apps.mcp_tools.tests.conftest import jwt_for, pat_for

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")

BASE_DIR = Path(settings.BASE_DIR)
STARTUP_TIMEOUT_SECONDS = 60


def _test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


def _environment(token: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "GATEWAY_TOKEN"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": _test_database_url()})
    if token is not None:
        env["GATEWAY_TOKEN"] = token
    return env


def _stdio_server(token: str | None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["manage.py", "mcp_stdio"], env=_environment(token), cwd=BASE_DIR
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_it_serves_the_tools_over_stdio_to_the_sdk_client(transactional_db, alice, mode):
    from apps.mcp_tools.models import ToolCall
    from apps.todos.models import Todo

    token = await sync_to_async(pat_for)(alice)

    async with Client(_stdio_server(token), mode=mode, read_timeout_seconds=STARTUP_TIMEOUT_SECONDS) as client:
        assert client.server_info is not None and client.server_info.name == "todo-mcp-gateway"
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"create_todos", "list_todos", "todo_overview", "whoami"} <= names
        created = await client.call_tool("create_todos", {"items": [{"title": "Call mum", "due": "tomorrow"}]})
        listed = await client.call_tool("list_todos", {})
        who = await client.call_tool("whoami", {})

    assert created.is_error is not True and created.structured_content["count"] == 1
    assert [todo["title"] for todo in listed.structured_content["todos"]] == ["Call mum"]
    assert who.structured_content["user"]["username"] == "alice"
    assert await Todo.objects.filter(owner=alice, title="Call mum").aexists()
    assert {call.transport async for call in ToolCall.objects.filter(user=alice)} == {"mcp-stdio"}


@pytest.mark.slow
async def test_it_stops_serving_a_stdio_client_whose_token_is_revoked(transactional_db, alice):
    from apps.accounts.models import PersonalAccessToken
    from apps.accounts.services import pat_revoke

    token = await sync_to_async(pat_for)(alice, name="desktop")

    async with Client(_stdio_server(token), mode="legacy", read_timeout_seconds=STARTUP_TIMEOUT_SECONDS) as client:
        assert (await client.call_tool("todo_overview", {})).is_error is not True
        row = await PersonalAccessToken.objects.aget(name="desktop")
        await sync_to_async(pat_revoke)(token=row)
        with pytest.raises(MCPError) as refused:
            await client.call_tool("todo_overview", {})

    assert "token_revoked" in refused.value.message


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_command(monkeypatch, capfd) -> Callable[[str | None], Finished]:
    """`manage.py mcp_stdio` as the client starts it, up to its refusal: manage.py's own entry point
    (execute_from_command_line) in this process, reading the output at the file descriptors. A refusal
    comes before the command reads stdin or serves anything, so a process of its own (a Django start
    each) would prove nothing more; the tests above start one to be served."""

    def run(token: str | None) -> Finished:
        if token is None:
            monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
        else:
            monkeypatch.setenv("GATEWAY_TOKEN", token)
        capfd.readouterr()
        with pytest.raises(SystemExit) as exited:
            execute_from_command_line(["manage.py", "mcp_stdio"])
        out, err = capfd.readouterr()
        return Finished(returncode=exited.value.code, stdout=out, stderr=err)

    return run


def test_it_refuses_to_start_without_a_token(db, run_command):
    finished = run_command(None)

    assert finished.returncode != 0
    assert "GATEWAY_TOKEN is not set" in finished.stderr
    # It points at what exists: the token endpoint (there are no settings pages).
    assert "POST /api/auth/tokens" in finished.stderr and "settings pages" not in finished.stderr
    assert finished.stdout == ""  # stdout is the protocol stream: nothing but MCP may appear there


def test_it_refuses_to_start_with_a_revoked_token(alice, run_command):
    from apps.accounts.models import PersonalAccessToken
    from apps.accounts.services import pat_revoke

    token = pat_for(alice, name="old laptop")
    pat_revoke(token=PersonalAccessToken.objects.get(name="old laptop"))

    finished = run_command(token)

    assert finished.returncode != 0
    assert "GATEWAY_TOKEN was refused" in finished.stderr and "revoked" in finished.stderr
    assert token not in finished.stderr
    assert finished.stdout == ""


def test_it_refuses_to_start_with_a_jwt_instead_of_a_personal_access_token(alice, run_command):
    finished = run_command(jwt_for(alice))

    assert finished.returncode != 0
    assert "must be a personal access token" in finished.stderr
    assert finished.stdout == ""


STDIO_APPLICATION_NAME = "gw-stdio-outage-test"


@pytest.mark.postgres  # PostgreSQL kills the server's connections
async def test_a_database_outage_reaches_a_stdio_client_as_unavailable_never_as_its_error_text(transactional_db, alice):
    token = await sync_to_async(pat_for)(alice)
    env = _environment(token)
    # Named, so only the stdio server's connections are killed, not those of the test process.
    env["DATABASE_URL"] += f"?application_name={STDIO_APPLICATION_NAME}"
    server = StdioServerParameters(command=sys.executable, args=["manage.py", "mcp_stdio"], env=env, cwd=BASE_DIR)

    def kill_the_server_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                [STDIO_APPLICATION_NAME],
            )
            return cursor.fetchone()[0]

    async with Client(server, read_timeout_seconds=STARTUP_TIMEOUT_SECONDS) as client:
        assert (await client.list_tools()).tools
        assert await sync_to_async(kill_the_server_connections)() >= 1
        with pytest.raises(MCPError) as refused:
            await client.list_tools()
        # Each refusal discards one dead pooled connection; the server comes back by itself.
        for _attempt in range(20):
            try:
                assert (await client.list_tools()).tools
                break
            except MCPError as exc:
                assert exc.error.message.startswith("service_unavailable: ")
        else:
            raise AssertionError("the stdio server did not recover")

    assert refused.value.error.message.startswith("service_unavailable: ")
    assert "terminating" not in refused.value.error.message
    assert refused.value.error.data == {"retry_after": 2}
