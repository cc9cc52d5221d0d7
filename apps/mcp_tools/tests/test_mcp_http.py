"""/mcp over a real socket, driven by the official MCP SDK client (and raw HTTP where the wire matters).

Both protocol eras the SDK speaks are exercised: "legacy" (the initialize handshake that today's
desktop clients use) and "auto" (the SDK's default, which negotiates the 2026-07-28 per-request
protocol through server/discover).
"""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from mcp.shared.exceptions import MCPError

from apps.mcp_tools.tests.conftest import jwt_for, mcp_client, pat_for

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")

TODO_TOOLS = {
    "create_todos",
    "list_todos",
    "search_todos",
    "get_todo",
    "update_todo",
    "complete_todos",
    "reopen_todo",
    "delete_todos",
    "set_priority",
    "set_due_date",
    "todo_overview",
}
LEGACY_VERSION = "2025-11-25"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _rpc(method: str, params: dict | None = None, *, request_id: int = 1) -> dict:
    body: dict = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


async def _post(url: str, body: dict, *, token: str | None = None, **headers: str) -> httpx2.Response:
    all_headers = {**JSON_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION, **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(url, json=body, headers=all_headers)


@sync_to_async
def _titles_of(user) -> dict[str, dict]:
    from apps.todos.models import Todo

    return {todo.title: todo for todo in Todo.objects.filter(owner=user)}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("credential", ["pat", "jwt"])
async def test_it_serves_every_todo_tool_to_the_sdk_client(asgi_server, alice, mode, credential):
    token = await sync_to_async(pat_for if credential == "pat" else jwt_for)(alice)

    async with mcp_client(asgi_server.mcp_url, token, mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "todo-mcp-gateway"
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert TODO_TOOLS | {"current_time", "whoami"} <= set(listed)
        for tool in listed.values():
            assert tool.title and tool.description
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"
            assert tool.annotations is not None and tool.annotations.read_only_hint is not None
        assert listed["list_todos"].annotations.read_only_hint is True
        assert listed["delete_todos"].annotations.destructive_hint is True

        async def call(name: str, arguments: dict) -> dict:
            result = await client.call_tool(name, arguments)
            assert result.is_error is not True, result.content
            # The text block carries the same JSON as the structured content, for clients that show text.
            assert json.loads(result.content[0].text) == result.structured_content
            return result.structured_content

        created = await call(
            "create_todos",
            {"items": [{"title": "Buy milk", "priority": "high"}, {"title": "File taxes", "due": "tomorrow 5pm"}]},
        )
        assert created["count"] == 2
        milk, taxes = (item["id"] for item in created["created"])

        listed_todos = await call("list_todos", {"status": "open"})
        assert {todo["title"] for todo in listed_todos["todos"]} == {"Buy milk", "File taxes"}
        found = await call("search_todos", {"query": "milk"})
        assert [todo["id"] for todo in found["todos"]] == [milk]
        assert (await call("get_todo", {"id": taxes}))["todo"]["due_at"] is not None
        assert (await call("update_todo", {"id": milk, "title": "Buy oat milk"}))["todo"]["title"] == "Buy oat milk"
        assert (await call("set_priority", {"id": taxes, "priority": "urgent"}))["todo"]["priority"] == "urgent"
        assert (await call("set_due_date", {"id": milk, "due": "2030-01-02T09:00"}))["todo"]["due_at"].startswith(
            "2030-01-02T09:00"
        )
        assert (await call("complete_todos", {"ids": [milk, taxes]}))["count"] == 2
        assert (await call("reopen_todo", {"id": taxes}))["todo"]["status"] == "open"
        overview = await call("todo_overview", {})
        assert (overview["open"], overview["completed"]) == (1, 1)
        assert (await call("delete_todos", {"ids": [milk]}))["count"] == 1

    todos = await _titles_of(alice)
    assert set(todos) == {"File taxes"}
    assert todos["File taxes"].priority == "urgent"


async def test_it_records_mcp_http_calls_as_such(asgi_server, alice, alice_pat):
    from apps.mcp_tools.models import ToolCall

    async with mcp_client(asgi_server.mcp_url, alice_pat) as client:
        await client.call_tool("todo_overview", {})

    call = await ToolCall.objects.aget(tool_name="todo_overview")
    assert (call.transport, call.auth_method, call.user_id) == ("mcp-http", "pat", alice.pk)


async def test_it_hides_and_refuses_tools_outside_the_token_scope(asgi_server, alice):
    read_only = await sync_to_async(pat_for)(alice, scopes=["todos:read"])

    async with mcp_client(asgi_server.mcp_url, read_only) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"list_todos", "get_todo", "search_todos", "todo_overview"} <= names
        assert not names & {"create_todos", "delete_todos", "update_todo", "whoami"}
        refused = await client.call_tool("create_todos", {"items": [{"title": "Sneaky"}]})

    assert refused.is_error is True
    assert refused.structured_content is None
    assert refused.content[0].text.startswith("insufficient_scope: ")
    assert await _titles_of(alice) == {}


async def test_it_answers_tool_failures_as_clear_tool_errors(asgi_server, alice_pat):
    async with mcp_client(asgi_server.mcp_url, alice_pat) as client:
        unknown = await client.call_tool("launch_rockets", {})
        invalid = await client.call_tool("get_todo", {"id": "seven", "colour": "red"})
        missing = await client.call_tool("get_todo", {"id": 999_999})

    assert unknown.is_error and unknown.content[0].text.startswith("unknown_tool: ")
    assert invalid.is_error and invalid.content[0].text.startswith("validation_error: ")
    assert "colour" in invalid.content[0].text  # the schema errors are named
    assert missing.is_error and missing.content[0].text.startswith("not_found: ")


async def test_it_keeps_bobs_todos_out_of_alices_tools(asgi_server, alice, bob):
    alice_token, bob_token = await sync_to_async(lambda: (pat_for(alice), pat_for(bob)))()
    async with mcp_client(asgi_server.mcp_url, bob_token) as client:
        bobs = (await client.call_tool("create_todos", {"items": [{"title": "Bob's secret"}]})).structured_content
    bob_todo = bobs["created"][0]["id"]

    async with mcp_client(asgi_server.mcp_url, alice_token) as client:
        listed = (await client.call_tool("list_todos", {"status": "all"})).structured_content
        fetched = await client.call_tool("get_todo", {"id": bob_todo})
        deleted = await client.call_tool("delete_todos", {"ids": [bob_todo]})

    assert listed["todos"] == []
    assert fetched.is_error and deleted.is_error
    assert set(await _titles_of(bob)) == {"Bob's secret"}


# --- Refusals at the door -------------------------------------------------------------------------


async def _sdk_client_refused(url: str, token: str | None, **kwargs) -> bool:
    """Whether the SDK client fails to connect and list tools with an MCP error (it may come wrapped in a group)."""
    try:
        async with mcp_client(url, token, **kwargs) as client:
            await client.list_tools()
    except MCPError:
        return True
    except BaseExceptionGroup as group:
        return group.subgroup(MCPError) is not None
    return False


def _challenge_metadata_url() -> str:
    return f'resource_metadata="{settings.PUBLIC_BASE_URL}/.well-known/oauth-protected-resource/mcp"'


async def test_it_refuses_a_missing_token_with_a_challenge_naming_the_metadata(asgi_server):
    response = await _post(asgi_server.mcp_url, _rpc("tools/list"))

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert _challenge_metadata_url() in challenge

    assert await _sdk_client_refused(asgi_server.mcp_url, None)


@sync_to_async
def _refused_tokens(alice) -> dict[str, str]:
    from django.utils import timezone

    from apps.accounts.models import PersonalAccessToken
    from apps.accounts.services import pat_revoke

    expired = pat_for(alice, name="expired")
    PersonalAccessToken.objects.filter(name="expired").update(expires_at=timezone.now())
    revoked = pat_for(alice, name="revoked")
    pat_revoke(token=PersonalAccessToken.objects.get(name="revoked"))
    return {
        "expired PAT": expired,
        "revoked PAT": revoked,
        "expired JWT": jwt_for(alice, expired=True),
        "tampered JWT": jwt_for(alice)[:-4] + "AAAA",
        "unknown PAT": "gw_pat_0123456789ab_notarealsecret",
    }


async def test_it_refuses_expired_revoked_and_forged_tokens(asgi_server, alice):
    tokens = await _refused_tokens(alice)

    reasons = {}
    for label, token in tokens.items():
        response = await _post(asgi_server.mcp_url, _rpc("tools/list"), token=token)
        assert response.status_code == 401, label
        challenge = response.headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and _challenge_metadata_url() in challenge, label
        reasons[label] = response.json()["error_description"]
        assert await _sdk_client_refused(asgi_server.mcp_url, token), label

    assert "expired" in reasons["expired PAT"] and "expired" in reasons["expired JWT"]
    assert "revoked" in reasons["revoked PAT"]
    assert await _titles_of(alice) == {}


async def test_it_refuses_a_foreign_origin_before_looking_at_the_token(asgi_server, alice_pat):
    foreign = await _post(asgi_server.mcp_url, _rpc("tools/list"), token=alice_pat, Origin="http://evil.example")
    anonymous_foreign = await _post(asgi_server.mcp_url, _rpc("tools/list"), Origin="http://evil.example")
    own = await _post(asgi_server.mcp_url, _rpc("tools/list"), token=alice_pat, Origin=settings.PUBLIC_BASE_URL)

    assert foreign.status_code == 403
    assert anonymous_foreign.status_code == 403
    assert own.status_code == 200 and own.json()["result"]["tools"]

    assert await _sdk_client_refused(asgi_server.mcp_url, alice_pat, headers={"Origin": "http://evil.example"})


async def test_it_serves_mcp_at_one_path_only(asgi_server, alice_pat):
    response = await _post(asgi_server.mcp_url + "/anything", _rpc("tools/list"), token=alice_pat)

    assert response.status_code == 404


async def test_it_refuses_a_host_it_does_not_serve(asgi_server, alice_pat):
    response = await _post(asgi_server.mcp_url, _rpc("tools/list"), token=alice_pat, Host="rebound.example")

    assert response.status_code == 421


async def test_it_refuses_an_oversized_body_without_running_it(asgi_server, alice, alice_pat):
    huge = {"items": [{"title": "x", "description": "y" * (settings.MCP_MAX_REQUEST_BYTES + 10)}]}
    response = await _post(
        asgi_server.mcp_url, _rpc("tools/call", {"name": "create_todos", "arguments": huge}), token=alice_pat
    )

    assert response.status_code == 413
    assert await _titles_of(alice) == {}


async def test_it_answers_malformed_json_with_a_parse_error(asgi_server, alice_pat):
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            asgi_server.mcp_url,
            content=b'{"jsonrpc": "2.0", "id": 1, "method": ',
            headers={**JSON_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION, "Authorization": f"Bearer {alice_pat}"},
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


# --- Metadata ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])
async def test_it_publishes_protected_resource_metadata(asgi_server, path):
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.get(asgi_server.url + path)

    assert response.status_code == 200
    metadata = response.json()
    assert metadata["resource"] == f"{settings.PUBLIC_BASE_URL}/mcp"
    assert metadata["authorization_servers"] == [settings.PUBLIC_BASE_URL]
    assert {"todos:read", "todos:write"} <= set(metadata["scopes_supported"])
    assert metadata["bearer_methods_supported"] == ["header"]


# --- Concurrency --------------------------------------------------------------------------------------


@sync_to_async
def _users_with_one_todo(count: int) -> list[tuple[str, str]]:
    from apps.accounts.services import user_create
    from apps.todos.models import Todo

    callers = []
    for index in range(count):
        user = user_create(
            username=f"user{index}", password="correct-horse-battery-9", email=f"u{index}@example.test", role="user"
        )
        title = f"only for user{index}"
        Todo.objects.create(owner=user, title=title)
        callers.append((pat_for(user), title))
    return callers


async def test_it_answers_concurrent_calls_that_reuse_one_request_id_each_with_its_own_result(
    asgi_server, patient_pool
):
    callers = await _users_with_one_todo(8)
    body = _rpc("tools/call", {"name": "list_todos", "arguments": {"status": "all"}}, request_id=1)

    async with httpx2.AsyncClient(timeout=60) as http:

        async def call(token: str) -> httpx2.Response:
            headers = {**JSON_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION, "Authorization": f"Bearer {token}"}
            return await http.post(asgi_server.mcp_url, json=body, headers=headers)

        rounds = 5
        responses = await asyncio.gather(*(call(token) for _ in range(rounds) for token, _title in callers))

    expected = [title for _ in range(rounds) for _token, title in callers]
    for response, title in zip(responses, expected, strict=True):
        assert response.status_code == 200
        answer = response.json()
        assert answer["id"] == 1
        assert [todo["title"] for todo in answer["result"]["structuredContent"]["todos"]] == [title]


async def test_it_runs_each_requests_database_work_on_a_thread_of_its_own(asgi_server, alice_pat, monkeypatch):
    """Token check and tool share one per-request thread (as a Django view's ORM calls do), borrowed
    from the pool of request threads (apps.core.request_threads), not the process-wide sync thread
    every request would queue on; requests one after another reuse it rather than start one each."""
    import threading

    from apps.mcp_tools.transport import auth, server

    threads: list[tuple[str, threading.Thread]] = []

    def spying(step, real):
        def spy(*args, **kwargs):
            threads.append((step, threading.current_thread()))
            return real(*args, **kwargs)

        return spy

    monkeypatch.setattr(auth, "principal_from_bearer", spying("auth", auth.principal_from_bearer))
    monkeypatch.setattr(server, "tool_invoke", spying("tool", server.tool_invoke))
    body = _rpc("tools/call", {"name": "todo_overview", "arguments": {}})
    for _ in range(3):
        assert (await _post(asgi_server.mcp_url, body, token=alice_pat)).status_code == 200

    assert [step for step, _thread in threads] == ["auth", "tool"] * 3
    per_request = [threads[index][1] for index in range(0, 6, 2)]
    assert per_request == [threads[index][1] for index in range(1, 6, 2)]
    assert all(thread.name.startswith("request") for thread in per_request)
    assert len(set(per_request)) == 1


@sync_to_async
def _limit_tool_to_one_call_a_minute(tool_name: str, operator) -> None:
    from apps.core.limiter import limits_reset as rate_limit_reset
    from apps.mcp_tools.models import ToolPolicy
    from apps.mcp_tools.pipeline.policies import policies_ensure, tool_policy_update

    rate_limit_reset()
    policies_ensure()
    policy = ToolPolicy.objects.get(tool_name=tool_name)
    tool_policy_update(policy=policy, actor=operator, changes={"rate_limit": "1/minute", "cacheable": False})


async def test_it_answers_a_rate_limited_call_as_a_tool_error_with_retry_after(asgi_server, alice_pat, olivia):
    from apps.core.limiter import limits_reset as rate_limit_reset

    await _limit_tool_to_one_call_a_minute("todo_overview", olivia)
    try:
        async with mcp_client(asgi_server.mcp_url, alice_pat) as client:
            first = await client.call_tool("todo_overview", {})
            second = await client.call_tool("todo_overview", {})
    finally:
        await sync_to_async(rate_limit_reset)()

    assert first.is_error is not True
    assert second.is_error is True
    text = second.content[0].text
    assert text.startswith("rate_limited: ")
    assert 1 <= json.loads(text[text.index("{") :])["retry_after"] <= 60


async def test_it_counts_tools_list_against_the_callers_rate_as_rest_does(asgi_server, alice_pat, settings):
    settings.QUOTA_USER_RATE = "2/hour"
    settings.QUOTA_USER_BURST = 2
    async with mcp_client(asgi_server.mcp_url, alice_pat) as client:
        for _ in range(2):
            assert (await client.list_tools()).tools
        with pytest.raises(MCPError) as refused:
            await client.list_tools()
    assert str(refused.value).startswith("rate_limited: Too many requests: the user limit is 2 per hour")
    assert refused.value.error.data["limit"] == "user" and refused.value.error.data["retry_after"] > 1000


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_it_keeps_concurrent_sdk_clients_apart(asgi_server, mode):
    # Every SDK client numbers its requests from 0, so these concurrent calls share request ids too.
    callers = await _users_with_one_todo(6)

    async def titles_seen_by(token: str) -> list[str]:
        async with mcp_client(asgi_server.mcp_url, token, mode=mode) as client:
            result = await client.call_tool("list_todos", {"status": "all"})
        return [todo["title"] for todo in result.structured_content["todos"]]

    seen = await asyncio.gather(*(titles_seen_by(token) for token, _title in callers))

    assert seen == [[title] for _token, title in callers]
