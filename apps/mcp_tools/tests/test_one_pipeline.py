"""REST invoke and MCP tools/call are two doors onto one pipeline: the same call gives the same answer.

Both calls go over the same live socket with the same personal access token: REST's `result` must
equal MCP's `structuredContent`, and a refusal must carry the same code, message and details.
"""

from __future__ import annotations

import json

import httpx2
import pytest
from asgiref.sync import sync_to_async

from apps.mcp_tools.tests.conftest import mcp_client, pat_for

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")


@sync_to_async
def _alice_with_todos(alice) -> tuple[str, str, int]:
    from apps.todos.models import Todo

    Todo.objects.create(owner=alice, title="Water the plants", priority="high")
    milk = Todo.objects.create(owner=alice, title="Buy milk")
    return pat_for(alice), pat_for(alice, scopes=["todos:read"], name="read only"), milk.pk


async def _rest_invoke(base_url: str, token: str, tool_name: str, parameters: dict) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{base_url}/api/mcp/tools/invoke",
            json={"tool_name": tool_name, "parameters": parameters},
            headers={"Authorization": f"Bearer {token}"},
        )


READ_CALLS = [
    ("get_todo", lambda milk: {"id": milk}),
    ("list_todos", lambda milk: {"status": "all", "limit": 10}),
    ("search_todos", lambda milk: {"query": "milk"}),
    ("todo_overview", lambda milk: {}),
    ("whoami", lambda milk: {}),
]


@pytest.mark.parametrize(("tool_name", "arguments_for"), READ_CALLS, ids=[name for name, _ in READ_CALLS])
async def test_rest_and_mcp_give_the_same_result_for_the_same_call(asgi_server, alice, tool_name, arguments_for):
    token, _read_only, milk = await _alice_with_todos(alice)
    arguments = arguments_for(milk)

    async with mcp_client(asgi_server.mcp_url, token) as client:
        over_mcp = await client.call_tool(tool_name, arguments)
    over_rest = await _rest_invoke(asgi_server.url, token, tool_name, arguments)

    assert over_rest.status_code == 200, over_rest.text
    assert over_mcp.is_error is not True
    assert over_rest.json()["result"] == over_mcp.structured_content
    assert over_mcp.structured_content  # not two empty answers agreeing


REFUSED_CALLS = [
    ("unknown tool", "launch_rockets", {}, 404),
    ("invalid arguments", "get_todo", {"id": "seven", "colour": "red"}, 400),
    ("not the caller's todo", "get_todo", {"id": 987_654}, 404),
    ("outside the token's scope", "create_todos", {"items": [{"title": "x"}]}, 403),
]


@pytest.mark.parametrize(
    ("tool_name", "arguments", "status"),
    [case[1:] for case in REFUSED_CALLS],
    ids=[case[0] for case in REFUSED_CALLS],
)
async def test_rest_and_mcp_refuse_the_same_call_the_same_way(asgi_server, alice, tool_name, arguments, status):
    _token, read_only, _milk = await _alice_with_todos(alice)

    async with mcp_client(asgi_server.mcp_url, read_only) as client:
        over_mcp = await client.call_tool(tool_name, arguments)
    over_rest = await _rest_invoke(asgi_server.url, read_only, tool_name, arguments)

    assert over_rest.status_code == status
    error = over_rest.json()["error"]
    details = {key: value for key, value in error["details"].items() if key != "invocation_id"}
    expected_text = f"{error['code']}: {error['message']}" + (
        " " + json.dumps(details, ensure_ascii=False, separators=(",", ":")) if details else ""
    )
    assert over_mcp.is_error is True
    assert over_mcp.content[0].text == expected_text
