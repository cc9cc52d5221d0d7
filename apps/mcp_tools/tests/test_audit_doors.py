"""The audit trail through MCP over Streamable HTTP: the same events as REST, with the mcp door."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from apps.accounts.models import PersonalAccessToken
from apps.audit.models import AuditEvent
from apps.mcp_tools.tests.conftest import mcp_client


@sync_to_async
def _events() -> list[AuditEvent]:
    # The todo event commits inside the tool's transaction, the tool event after it.
    return list(AuditEvent.objects.filter(category__in=["tool", "todo"]).order_by("-category"))


async def test_an_mcp_tool_call_records_the_door_the_token_and_the_address(
    asgi_server, alice, alice_pat, close_sync_thread_connections
):
    async with mcp_client(asgi_server.mcp_url, alice_pat, headers={"User-Agent": "mcp-test/2"}) as client:
        await client.call_tool("create_todos", {"items": [{"title": "From Claude"}]})

    tool, created = await _events()
    token = await PersonalAccessToken.objects.aget(user=alice)
    assert (tool.action, created.action) == ("tool.invoked", "todo.created")
    for event in (tool, created):
        assert (event.door, event.actor_id, event.token_id, event.actor_type) == ("mcp", alice.pk, token.pk, "token")
        assert event.client_address == "127.0.0.1" and event.user_agent == "mcp-test/2"
        assert len(event.request_id) == 32
    assert created.data["invocation_id"] == tool.data["invocation_id"]
    assert created.request_id == tool.request_id
