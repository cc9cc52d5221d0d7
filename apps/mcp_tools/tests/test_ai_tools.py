"""AI tools through the one pipeline, with keys from the vault, against the loopback fake providers."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.audit.models import AuditEvent
from apps.keys.models import ProviderKey
from apps.keys.services import provider_key_create
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.tests.pipeline_helpers import invoke, pat_client, result_of
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, openai_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_calls(settings):
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_MAX_WAIT_SECONDS = 0.05
    settings.PROVIDER_RETRY_ATTEMPTS = 2
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 2
    settings.PROVIDER_BREAKER_FAILURES = 50


def store_key(fake_provider, user, provider: str = "openai", *, label: str | None = None, valid: bool = True) -> str:
    api_key = openai_key() if provider == "openai" else anthropic_key()
    if valid:
        fake_provider.valid_keys.add(api_key)
    provider_key_create(actor=user, owner=user, provider=provider, api_key=api_key, label=label or "")
    return api_key


def test_ai_complete_answers_with_provider_model_and_usage(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    result = result_of(alice_client, "ai_complete", {"prompt": "hello"})
    assert result["text"] == "echo: hello"
    assert (result["provider"], result["model"]) == ("openai", "gpt-4o-mini")
    assert result["usage"]["input_tokens"] > 0 and result["offline"] is False and result["cached"] is False
    row = ToolCall.objects.get(tool_name="ai_complete")
    assert row.success and row.transport == "rest"
    assert AuditEvent.objects.filter(action="tool.invoked", target_id="ai_complete").exists()


def test_ai_tools_need_the_ai_scope(fake_provider, alice):
    store_key(fake_provider, alice)
    client = pat_client(alice, scopes=["todos:read"])
    response = invoke(client, "ai_complete", {"prompt": "hello"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert fake_provider.model_calls() == []


def test_the_user_chooses_provider_order_and_model(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    store_key(fake_provider, alice, "anthropic")
    response = alice_client.put(
        "/api/ai/preferences",
        {"provider_order": ["anthropic", "openai"], "models": {"anthropic": "claude-haiku-4-5"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["provider_order"][:2] == ["anthropic", "openai"]
    assert result_of(alice_client, "ai_complete", {"prompt": "hi"})["provider"] == "anthropic"
    assert result_of(alice_client, "ai_complete", {"prompt": "hi", "provider": "openai"})["provider"] == "openai"
    bad = alice_client.put("/api/ai/preferences", {"provider_order": ["nope"]}, format="json")
    assert bad.status_code == 400


def test_without_keys_ai_is_offline_and_todo_tools_still_work(fake_provider, alice_client):
    result = result_of(alice_client, "ai_complete", {"prompt": "hello"})
    assert result["offline"] is True and result["provider"] is None
    assert "No usable provider key" in result["offline_reason"]
    created = result_of(alice_client, "create_todos", {"items": [{"title": "still works"}]})
    assert created["count"] == 1
    assert result_of(alice_client, "list_todos", {})["total"] == 1


def test_when_every_provider_is_down_the_answer_is_offline_with_when_to_retry(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    store_key(fake_provider, alice, "anthropic")
    fake_provider.behaviour = fake.RATE_LIMITED
    fake_provider.retry_after = "30"
    result = result_of(alice_client, "ai_complete", {"prompt": "hello"})
    assert result["offline"] is True
    assert result["providers_tried"] == ["openai", "anthropic"]
    assert result["retry_after"] == 30
    assert "rate-limiting" in result["offline_reason"]
    assert result_of(alice_client, "create_todos", {"items": [{"title": "offline todo"}]})["count"] == 1
    # Recovery is automatic: the next call after the provider is back answers.
    fake_provider.behaviour = None
    assert result_of(alice_client, "ai_complete", {"prompt": "hello"})["offline"] is False


def test_offline_serves_a_cached_answer_where_one_exists(fake_provider, alice, alice_client, settings):
    store_key(fake_provider, alice)
    first = result_of(alice_client, "ai_complete", {"prompt": "cache me"})
    fake_provider.behaviour = fake.UNAVAILABLE
    again = result_of(alice_client, "ai_complete", {"prompt": "cache me"})
    assert again["cached"] is True and again["offline"] is False and again["text"] == first["text"]
    settings.AI_OFFLINE = True
    assert result_of(alice_client, "ai_complete", {"prompt": "cache me"})["cached"] is True
    other = result_of(alice_client, "ai_complete", {"prompt": "not cached"})
    assert other["offline"] is True and "AI_OFFLINE" in other["offline_reason"]


def test_a_refused_key_is_marked_invalid_audited_and_the_next_key_answers(
    fake_provider, alice, alice_client, django_capture_on_commit_callbacks
):
    refused = store_key(fake_provider, alice, label="Old")
    store_key(fake_provider, alice, label="Spare")
    fake_provider.behaviours[refused] = fake.UNAUTHORIZED
    with django_capture_on_commit_callbacks(execute=True):  # the owner's mail goes once the mark commits
        result = result_of(alice_client, "ai_complete", {"prompt": "hello"})
    assert result["offline"] is False and result["provider"] == "openai"
    assert "refused your key 'Old'" in result["notices"][0]
    assert "platform.openai.com/api-keys" in result["notices"][0]
    old = ProviderKey.objects.get(label="Old")
    assert old.last_validation_result == ProviderKey.Validation.INVALID
    assert AuditEvent.objects.filter(action="provider_key.refused", target_id=str(old.pk)).exists()
    assert len(mail.outbox) == 1 and "Old" in mail.outbox[0].subject
    # The refused key is not tried again until it is rotated or re-validated.
    before = len(fake_provider.model_calls(key=refused))
    result_of(alice_client, "ai_complete", {"prompt": "again"})
    assert len(fake_provider.model_calls(key=refused)) == before == 1


def test_it_falls_back_to_the_next_provider_and_back(fake_provider, alice, alice_client):
    first = store_key(fake_provider, alice)
    store_key(fake_provider, alice, "anthropic")
    fake_provider.behaviours[first] = fake.OVERLOADED
    assert result_of(alice_client, "ai_complete", {"prompt": "one"})["provider"] == "anthropic"
    assert AuditEvent.objects.filter(action="provider.fallback").exists()
    del fake_provider.behaviours[first]
    assert result_of(alice_client, "ai_complete", {"prompt": "two"})["provider"] == "openai"


def test_a_bad_request_is_an_error_not_offline(fake_provider, alice, alice_client):
    first = store_key(fake_provider, alice)
    fake_provider.behaviours[first] = fake.BAD_REQUEST
    response = invoke(alice_client, "ai_complete", {"prompt": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "provider_refused_request"
    assert first not in response.content.decode()


def test_summarise_and_plan_read_the_callers_todos(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    result_of(alice_client, "create_todos", {"items": [{"title": "write report", "priority": "high"}]})
    summary = result_of(alice_client, "ai_summarize_todos", {})
    assert "write report" in summary["text"] and summary["todo_count"] == 1
    plan = result_of(alice_client, "ai_plan_day", {"date": "2026-11-27"})
    assert "2026-11-27" in plan["text"] and "write report" in plan["text"] and plan["date"] == "2026-11-27"


def test_extract_proposes_and_creates_only_when_asked(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    text = "call the bank\nbook flights"
    proposed = result_of(alice_client, "ai_extract_todos", {"text": text})
    assert [p["title"] for p in proposed["proposed"]] == ["call the bank", "book flights"]
    assert proposed["created"] == [] and result_of(alice_client, "list_todos", {})["total"] == 0
    created = result_of(alice_client, "ai_extract_todos", {"text": text, "create": True})
    assert [c["title"] for c in created["created"]] == ["call the bank", "book flights"]
    assert result_of(alice_client, "list_todos", {})["total"] == 2


@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_ai_complete_over_mcp_http_with_the_sdk_client(asgi_server, fake_provider, alice, alice_pat):
    from asgiref.sync import sync_to_async

    from apps.mcp_tools.tests.conftest import mcp_client

    await sync_to_async(store_key)(fake_provider, alice)
    async with mcp_client(asgi_server.mcp_url, alice_pat) as client:
        result = await client.call_tool("ai_complete", {"prompt": "over mcp"})
    assert result.structured_content["text"] == "echo: over mcp"
    assert result.structured_content["provider"] == "openai" and result.structured_content["offline"] is False
    call = await ToolCall.objects.aget(tool_name="ai_complete")
    assert call.transport == "mcp-http" and call.success


def test_every_answer_is_in_the_usage_ledger_and_a_spent_budget_refuses(fake_provider, alice, alice_client):
    from apps.quotas.models import Budget, UsageRecord

    store_key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "count me"})
    result_of(alice_client, "ai_complete", {"prompt": "count me"})  # from the cache: recorded at cost 0
    rows = list(UsageRecord.objects.filter(user=alice).order_by("id"))
    # The door is the one the call came through (REST invoke here), in the ledger and the audit trail.
    assert [(r.provider, r.cached, r.outcome, r.tool_name, r.door) for r in rows] == [
        ("openai", False, "ok", "ai_complete", "rest"),
        ("openai", True, "ok", "ai_complete", "rest"),
    ]
    assert rows[0].input_tokens > 0 and rows[0].output_tokens > 0
    from apps.audit.models import AuditEvent

    events = list(AuditEvent.objects.filter(action="provider.called").order_by("id"))
    assert [(e.door, e.tokens, e.cost) for e in events] == [
        ("rest", rows[0].input_tokens + rows[0].output_tokens, rows[0].cost),
        ("rest", 0, 0),
    ]
    Budget.objects.create(user=alice, provider="openai", period="day", measure="tokens", amount=10, hard=True)
    refused = invoke(alice_client, "ai_complete", {"prompt": "a new question that would pass the budget"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert len(fake_provider.model_calls()) == 1
