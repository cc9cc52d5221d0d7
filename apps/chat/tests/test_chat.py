"""POST /api/chat: the model's tool calls run through the one pipeline, in every provider's format."""

from __future__ import annotations

import json

import pytest

from apps.accounts.services import pat_create
from apps.audit.models import AuditEvent
from apps.chat.models import ChatMessage
from apps.keys.services import provider_key_create
from apps.mcp_tools.models import ToolCall
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, gemini_key, openai_key
from apps.todos.models import Todo

pytestmark = pytest.mark.django_db
CHAT = "/api/chat"


@pytest.fixture(autouse=True)
def fast_calls(settings):
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_ATTEMPTS = 2
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 2


def _store(fake_server, user, provider: str) -> str:
    api_key = {"openai": openai_key, "anthropic": anthropic_key, "gemini": gemini_key}[provider]()
    fake_server.valid_keys.add(api_key)
    provider_key_create(actor=user, owner=user, provider=provider, api_key=api_key)
    return api_key


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_chat_creates_a_todo_through_a_tool_call(fake_provider, alice, alice_client, provider):
    _store(fake_provider, alice, provider)
    response = alice_client.post(
        CHAT, {"messages": [{"role": "user", "content": "create todo: buy milk"}], "provider": provider}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["provider"] == provider and body["offline"] is False
    assert [(c["tool_name"], c["success"]) for c in body["tool_calls"]] == [("create_todos", True)]
    assert body["tool_calls"][0]["result"]["created"][0]["title"] == "buy milk"
    assert body["message"]["role"] == "assistant" and body["message"]["content"].startswith("Done:")
    assert body["usage"]["input_tokens"] > 0
    assert Todo.objects.get(owner=alice).title == "buy milk"
    # The call went through the pipeline like any other door's.
    assert ToolCall.objects.filter(tool_name="create_todos", transport="chat", user=alice).count() == 1
    # One event per operation, each naming the chat door: the tool call, the todo it made (carrying the
    # call's invocation id) and the two model calls with their tokens.
    tool_event = AuditEvent.objects.get(action="tool.invoked", target_id="create_todos")
    todo_event = AuditEvent.objects.get(action="todo.created")
    assert tool_event.door == todo_event.door == "chat"
    assert todo_event.data["invocation_id"] == tool_event.data["invocation_id"]
    model_calls = AuditEvent.objects.filter(action="provider.called", door="chat", actor_id=alice.pk)
    assert model_calls.count() == 2 and all(event.tokens > 0 for event in model_calls)
    # The second model call saw the tool's result in its own provider's format.
    sent = fake_provider.model_calls()[-1]["body"]
    if provider == "gemini":
        [part] = sent["contents"][-1]["parts"]
        assert part["functionResponse"]["name"] == "create_todos"
        return
    second = sent["messages"][-1]
    if provider == "openai":
        assert second["role"] == "tool" and second["tool_call_id"]
    else:
        assert second["role"] == "user" and second["content"][0]["type"] == "tool_result"


def test_a_key_in_a_tool_call_is_stored_masked_like_the_message_text(fake_provider, alice, alice_client):
    _store(fake_provider, alice, "gemini")
    pasted = gemini_key("PASTEDpasted")

    response = alice_client.post(
        CHAT, {"messages": [{"role": "user", "content": f"create todo: {pasted}"}], "provider": "gemini"}, format="json"
    )

    assert response.status_code == 200 and response.json()["tool_calls"][0]["tool_name"] == "create_todos"
    stored = list(ChatMessage.objects.values_list("content", "tool_calls"))
    assert any(calls for _content, calls in stored), "the tool call turn is stored"
    assert pasted not in repr(stored) and pasted[-10:] not in repr(stored)


def test_conversations_are_stored_per_user_and_continue(fake_provider, alice, alice_client, bob_client):
    _store(fake_provider, alice, "openai")
    first = alice_client.post(CHAT, {"messages": [{"role": "user", "content": "hello"}]}, format="json").json()
    conversation_id = first["conversation_id"]
    assert first["message"]["content"] == "echo: hello" and first["tool_calls"] == []
    again = alice_client.post(
        CHAT, {"messages": [{"role": "user", "content": "again"}], "conversation_id": conversation_id}, format="json"
    ).json()
    assert again["conversation_id"] == conversation_id
    # The history went to the model.
    sent = [m["content"] for m in fake_provider.model_calls()[-1]["body"]["messages"] if m["role"] != "system"]
    assert sent == ["hello", "echo: hello", "again"]
    listed = alice_client.get("/api/chat/conversations").json()
    assert [c["id"] for c in listed] == [conversation_id]
    detail = alice_client.get(f"/api/chat/conversations/{conversation_id}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    # bob sees neither the list entry nor the conversation, and cannot continue it.
    assert bob_client.get("/api/chat/conversations").json() == []
    assert bob_client.get(f"/api/chat/conversations/{conversation_id}").status_code == 404
    hijack = bob_client.post(
        CHAT, {"messages": [{"role": "user", "content": "x"}], "conversation_id": conversation_id}, format="json"
    )
    assert hijack.status_code == 404


def test_chat_without_a_working_provider_is_offline(fake_provider, alice, alice_client):
    _store(fake_provider, alice, "openai")
    fake_provider.behaviour = fake.UNAVAILABLE
    body = alice_client.post(CHAT, {"messages": [{"role": "user", "content": "hi"}]}, format="json").json()
    assert body["offline"] is True and body["provider"] is None
    assert "OpenAI" in body["offline_reason"]
    assert ChatMessage.objects.filter(role="assistant").count() == 1


def test_chat_needs_the_ai_scope_and_authentication(fake_provider, alice, anon_client):
    assert anon_client.post(CHAT, {"messages": [{"role": "user", "content": "hi"}]}, format="json").status_code == 401
    _row, token = pat_create(user=alice, name="reader", scopes=["todos:read"])
    response = anon_client.post(
        CHAT,
        {"messages": [{"role": "user", "content": "hi"}]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403


def test_chat_tools_follow_the_callers_token_scopes(fake_provider, alice, anon_client):
    _store(fake_provider, alice, "openai")
    _row, token = pat_create(user=alice, name="ai only", scopes=["ai:invoke", "todos:read"])
    body = anon_client.post(
        CHAT,
        {"messages": [{"role": "user", "content": "create todo: not allowed"}]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    offered = {t["function"]["name"] for t in fake_provider.model_calls()[0]["body"].get("tools", [])}
    assert "create_todos" not in offered and "list_todos" in offered
    assert body["tool_calls"] == [] and not Todo.objects.exists()


def test_the_service_itself_refuses_a_caller_without_the_ai_scope(alice):
    """Every door (the API, the chat page, any later one) gets the rule from chat_send itself."""
    from apps.accounts.principal import Principal
    from apps.chat.services import chat_send
    from apps.core.errors import Forbidden

    reader = Principal(user=alice, scopes=frozenset({"todos:read", "profile:read"}), auth_method="pat", token_id=1)
    with pytest.raises(Forbidden, match="ai:invoke"):
        chat_send(principal=reader, messages=[{"role": "user", "content": "hello"}])
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("whoami", {}), ("ai_complete", {"prompt": "hi"}), ("ai_extract_todos", {"text": "- x", "create": True})],
)
def test_a_tool_the_model_was_not_offered_is_refused_and_audited_as_denied(
    fake_provider, alice, alice_client, provider, tool, arguments
):
    """The model was shown the todo tools only; naming another tool runs nothing and spends nothing."""
    _store(fake_provider, alice, provider)
    prompt = f"call tool: {tool} {json.dumps(arguments)}"
    response = alice_client.post(
        CHAT, {"messages": [{"role": "user", "content": prompt}], "provider": provider}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    first = fake_provider.model_calls()[0]["body"]
    offered = {(t.get("function") or t)["name"] for t in first["tools"]}
    assert tool not in offered
    assert [(c["tool_name"], c["success"]) for c in body["tool_calls"]] == [(tool, False)]
    assert body["tool_calls"][0]["error"]["code"] == "tool_not_offered"
    # The model was told it was an error, in its own provider's format, and nothing else ran: two
    # model calls (the chat's own), no nested provider call, no todo, no email sent to the provider.
    calls = fake_provider.model_calls()
    assert len(calls) == 2
    assert "tool_not_offered" in json.dumps(calls[-1]["body"]["messages"][-1])
    assert alice.email not in json.dumps(calls[-1]["body"])
    assert not Todo.objects.exists()
    # Audited by the pipeline like any other refusal: one tool.denied event, one usage row.
    denied = AuditEvent.objects.get(action="tool.denied")
    assert (denied.target_id, denied.error_code, denied.door) == (tool, "tool_not_offered", "chat")
    assert not AuditEvent.objects.filter(action="tool.invoked").exists()
    assert ToolCall.objects.get(transport="chat").error_code == "tool_not_offered"
