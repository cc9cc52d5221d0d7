"""/settings/: the guided setup's steps, their progress, and the record operators read."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.mcp_tools.models import ToolCall
from apps.providers.models import AIPreference
from apps.providers.services import ai_preferences_get
from apps.providers.tests.keys import openai_key
from apps.todos.services import todo_create
from apps.web import services
from apps.web.models import SetupStep

pytestmark = pytest.mark.django_db


ORDER_ANTHROPIC_FIRST = {
    "choice_0": "anthropic",
    "choice_1": "openai",
    "choice_2": "gemini",
    "choice_3": "openai_compatible",
    "model_openai": "gpt-4o-mini",
    "model_anthropic": "claude-test",
    "model_gemini": "",
    "model_openai_compatible": "",
}


def _steps(user) -> set[str]:
    return set(SetupStep.objects.filter(user=user).values_list("step", flat=True))


def test_a_new_user_starts_at_the_first_step(alice_browser, alice):
    body = alice_browser.get("/settings/").content.decode()
    assert "0 of 6 steps done" in body and 'aria-current="step"' in body
    assert "gw_pat_YOUR_TOKEN" in body and "mcp-remote" in body and "mcp_stdio" in body
    assert _steps(alice) == set()


def test_each_step_is_recorded_and_the_progress_moves(alice_browser, alice, keyring, fake_provider):
    secret = openai_key()
    fake_provider.valid_keys.add(secret)
    added = alice_browser.post(
        "/settings/",
        {"action": "add_key", "provider": "openai", "api_key": secret, "label": "", "base_url": "", "validate": "on"},
    )
    assert added.status_code == 302
    ordered = alice_browser.post("/settings/", {"action": "provider_order", **ORDER_ANTHROPIC_FIRST})
    assert ordered.status_code == 302
    created = alice_browser.post(
        "/settings/", {"action": "create_token", "name": "Cursor", "scopes": ["todos:read"], "expires_in_days": ""}
    )
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    assert "shown only this once" in created.content.decode()
    alice_browser.post("/settings/", {"action": "configured"})
    tried = alice_browser.post("/settings/", {"action": "try_tool", "tool_name": "todo_overview", "arguments": ""})
    assert "Result of todo_overview" in tried.content.decode()
    assert _steps(alice) == set(services.SETUP_STEPS)
    assert "6 of 6 steps done" in alice_browser.get("/settings/").content.decode()


def test_steps_done_through_the_api_count_too(alice_browser, alice, store_key):
    store_key(alice)
    alice_browser.get("/settings/")
    assert _steps(alice) == {"key_added"}


def test_trying_a_tool_goes_through_the_pipeline_as_any_door(alice_browser, alice, bob):
    todo_create(owner=alice, title="Alice's errand")
    todo_create(owner=bob, title="Bob's errand")
    response = alice_browser.post(
        "/settings/", {"action": "try_tool", "tool_name": "list_todos", "arguments": '{"status": "open"}'}
    )
    body = response.content.decode()
    assert "Alice&#x27;s errand" in body and "Bob" not in body
    call = ToolCall.objects.get(user=alice)
    assert call.transport == "web" and call.auth_method == "session" and call.success


def test_bad_tool_arguments_are_explained(alice_browser, alice):
    not_json = alice_browser.post("/settings/", {"action": "try_tool", "tool_name": "list_todos", "arguments": "{"})
    assert not_json.status_code == 400 and "Not JSON" in not_json.content.decode()
    wrong = alice_browser.post(
        "/settings/", {"action": "try_tool", "tool_name": "list_todos", "arguments": '{"status": "someday"}'}
    )
    assert "list_todos failed" in wrong.content.decode() and "validation_error" in wrong.content.decode()
    # Which argument is wrong, and why, as the REST and MCP doors say it.
    assert "<li><code>status</code>: &#x27;someday&#x27; is not one of" in wrong.content.decode()
    not_offered = alice_browser.post("/settings/", {"action": "try_tool", "tool_name": "delete_todos", "arguments": ""})
    assert "not one of the available choices" in not_offered.content.decode()
    assert not SetupStep.objects.filter(user=alice, step="tool_tried").exists()


def test_the_provider_order_is_saved_through_the_preferences_service(alice_browser, bob_browser, alice, bob):
    page = alice_browser.get("/settings/").content.decode()
    assert 'id="order-choice_0"' in page and "3. Choose the provider order" in page
    response = alice_browser.post("/settings/", {"action": "provider_order", **ORDER_ANTHROPIC_FIRST})
    assert response.status_code == 302
    preferences = ai_preferences_get(user=alice)
    assert preferences.provider_order == ("anthropic", "openai", "gemini", "openai_compatible")
    assert preferences.models["anthropic"] == "claude-test"
    assert "provider_order" in _steps(alice) and "provider_order" not in _steps(bob)
    # The API reads the same preferences.
    assert ai_preferences_get(user=bob).provider_order != preferences.provider_order
    keys_page = alice_browser.get("/settings/keys/").content.decode()
    assert '<option value="anthropic" selected>' in keys_page and 'value="claude-test"' in keys_page


def test_a_provider_named_twice_is_refused_on_the_form(alice_browser, alice):
    twice = {**ORDER_ANTHROPIC_FIRST, "choice_1": "anthropic"}
    for path in ("/settings/", "/settings/keys/"):
        response = alice_browser.post(path, {"action": "provider_order", **twice})
        assert response.status_code == 400 and "Name each provider once." in response.content.decode(), path
    assert not AIPreference.objects.filter(user=alice).exists()
    too_long = alice_browser.post(
        "/settings/keys/", {"action": "provider_order", **ORDER_ANTHROPIC_FIRST, "model_openai": "m" * 101}
    )
    assert "at most 100 characters" in too_long.content.decode()


def test_the_key_manager_saves_the_order_too(alice_browser, alice):
    response = alice_browser.post("/settings/keys/", {"action": "provider_order", **ORDER_ANTHROPIC_FIRST})
    assert response.status_code == 302 and response["Location"] == "/settings/keys/"
    assert ai_preferences_get(user=alice).provider_order[0] == "anthropic"
    assert AuditEvent.objects.filter(action="ai_preferences.changed", actor_id=alice.pk).exists()
