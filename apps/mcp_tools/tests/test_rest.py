"""The REST door: tool listing, invoke, JWT versus personal-access-token scopes, operators acting for users."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.tests.pipeline_helpers import invoke, pat_client, result_of
from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db

READ_TOOLS = {"list_todos", "get_todo", "search_todos", "todo_overview"}
WRITE_TOOLS = {
    "create_todos",
    "update_todo",
    "complete_todos",
    "reopen_todo",
    "delete_todos",
    "set_priority",
    "set_due_date",
}
PROFILE_TOOLS = {"current_time", "whoami"}
AI_TOOLS = {"ai_complete", "ai_summarize_todos", "ai_plan_day", "ai_extract_todos"}


def _names(client) -> set[str]:
    response = client.get("/api/mcp/tools")
    assert response.status_code == 200
    return {tool["name"] for tool in response.json()}


def test_the_tool_endpoints_need_authentication(anon_client):
    assert anon_client.get("/api/mcp/tools").status_code == 401
    assert invoke(anon_client, "whoami").status_code == 401


def test_the_tool_list_carries_schemas_and_annotations(alice_client):
    tools = {tool["name"]: tool for tool in alice_client.get("/api/mcp/tools").json()}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS | PROFILE_TOOLS | AI_TOOLS
    delete = tools["delete_todos"]
    assert delete["annotations"] == {
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": False,
    }
    assert delete["input_schema"]["additionalProperties"] is False
    assert delete["required_scope"] == "todos:write"
    assert tools["list_todos"]["annotations"]["readOnlyHint"] is True
    assert tools["list_todos"]["output_schema"]["properties"]["next_offset"]


def test_a_jwt_carries_every_scope_of_the_role(alice_client, audrey):
    from conftest import client_for

    assert _names(alice_client) == READ_TOOLS | WRITE_TOOLS | PROFILE_TOOLS | AI_TOOLS
    auditor = client_for(audrey)
    assert _names(auditor) == PROFILE_TOOLS
    response = invoke(auditor, "list_todos", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] in {"role_not_allowed", "insufficient_scope"}


def test_a_read_only_token_sees_and_calls_only_read_tools(alice):
    todo_create(owner=alice, title="x")
    reader = pat_client(alice, scopes=["todos:read"])
    assert _names(reader) == READ_TOOLS
    assert result_of(reader, "list_todos", {})["total"] == 1
    response = invoke(reader, "create_todos", {"items": [{"title": "y"}]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.json()["error"]["details"]["required_scope"] == "todos:write"
    assert alice.todos.count() == 1
    assert invoke(reader, "whoami").status_code == 403


def test_whoami_over_a_token_shows_the_tokens_scopes(alice):
    client = pat_client(alice, scopes=["profile:read", "todos:read"])
    result = result_of(client, "whoami")
    assert result["auth_method"] == "pat"
    assert result["scopes"] == ["profile:read", "todos:read"]
    assert result["access_token_id"] == ToolCall.objects.latest("id").token_id
    assert ToolCall.objects.latest("id").auth_method == "pat"


def test_rest_todo_endpoints_respect_token_scopes(alice):
    reader = pat_client(alice, scopes=["todos:read"])
    assert reader.get("/api/todos").status_code == 200
    assert reader.get("/api/todos/overview").status_code == 200
    response = reader.post("/api/todos", {"title": "nope"}, format="json")
    assert response.status_code == 403
    assert "todos:write" in response.json()["error"]["message"]
    writer = pat_client(alice, scopes=["todos:write"])
    assert writer.post("/api/todos", {"title": "yes"}, format="json").status_code == 201
    assert writer.get("/api/todos").status_code == 403
    assert reader.get("/api/auth/me").status_code == 403
    assert pat_client(alice, scopes=["profile:read"]).patch("/api/auth/me", {"timezone": "UTC"}).status_code == 403


def test_a_user_cannot_invoke_for_someone_else(alice_client, bob):
    todo_create(owner=bob, title="bob's")
    response = invoke(alice_client, "list_todos", {}, user_id=bob.pk)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_operator"


def test_naming_yourself_as_user_id_is_fine(alice, alice_client):
    assert invoke(alice_client, "whoami", user_id=alice.pk).status_code == 200


def test_an_operator_can_act_for_a_user_and_both_are_audited(alice, olivia, olivia_client):
    todo_create(owner=alice, title="alice's")
    response = invoke(olivia_client, "list_todos", {}, user_id=alice.pk)
    assert response.status_code == 200
    assert [todo["title"] for todo in response.json()["result"]["todos"]] == ["alice's"]
    event = AuditEvent.objects.filter(action="tool.invoked").latest("id")
    assert event.actor == olivia
    assert event.data["operator_id"] == olivia.pk
    assert event.data["subject_user_id"] == alice.pk
    call = ToolCall.objects.get(invocation_id=response.json()["invocation_id"])
    assert (call.user, call.operator) == (alice, olivia)
    assert result_of(olivia_client, "whoami")["acting_operator"] is None
    assert invoke(olivia_client, "whoami", user_id=alice.pk).json()["result"]["acting_operator"] == "olivia"


def test_an_operator_token_cannot_exceed_its_own_scopes_when_acting(alice, olivia):
    client = pat_client(olivia, scopes=["todos:read"])
    assert invoke(client, "list_todos", {}, user_id=alice.pk).status_code == 200
    assert invoke(client, "create_todos", {"items": [{"title": "x"}]}, user_id=alice.pk).status_code == 403


def test_acting_for_an_unknown_user_is_404(olivia_client):
    assert invoke(olivia_client, "whoami", user_id=987654).status_code == 404
