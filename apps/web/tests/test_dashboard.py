"""The operators' dashboard on the admin index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts import pats
from apps.providers.fallback import completion_with_fallback
from apps.providers.models import ProviderCircuit
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.test_calls import HELLO, candidate
from apps.quotas.models import UsageRecord
from apps.web import services
from apps.web.tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_operators_see_where_people_stop_and_the_state_of_keys_tokens_and_calls(olivia, alice, bob, store_key):
    store_key(alice)
    pats.pat_create(user=alice, name="desktop", scopes=["todos:read"])
    services.setup_progress(user=alice)
    services.setup_step_complete(user=bob, step=services.Step.KEY_ADDED)
    services.tool_try(user=alice, tool_name="todo_overview", arguments={})
    UsageRecord.objects.create(
        user=alice,
        door="chat",
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=100,
        output_tokens=50,
        cost=Decimal("0.0125"),
        outcome="ok",
    )
    services.tool_try(user=alice, tool_name="list_todos", arguments={"status": "someday"})

    response = signed_in(olivia).get("/admin/")
    body = response.content.decode()
    assert response.status_code == 200 and "Dashboard" in body
    assert "Guided setup: where people stop" in body
    # 3 active users; alice and bob added a key, only alice made a token.
    assert '<th scope="row">Add a provider key</th><td>2</td>' in body
    assert '<th scope="row">Create an MCP access token</th><td>1</td>' in body
    assert "2 calls, 1 failed" in body and "validation_error" in body
    assert "1 active (0 used in the last day)" in body
    assert "Verify the hash chain now" in body
    assert "Top users this month" in body
    assert '<th scope="row">alice</th><td>1</td><td>150</td><td>$0.0125</td>' in body
    # Provider calls in the table beside it: the breakers' box does not claim none were made.
    assert "No provider called yet" not in body and "Every provider's breaker is closed" in body
    verified = signed_in(olivia).get("/admin/?verify_audit=1").content.decode()
    assert "Hash chain verified: intact." in verified


def test_auditors_get_the_admin_without_the_dashboard(audrey):
    response = signed_in(audrey).get("/admin/")
    assert response.status_code == 200 and "Guided setup: where people stop" not in response.content.decode()


def test_operators_see_an_open_breaker_and_reset_it_from_the_admin(olivia, fake_provider, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    one = candidate(fake_provider)
    fake_provider.behaviour = fake.UNAVAILABLE
    for _ in range(settings.PROVIDER_BREAKER_FAILURES):
        completion_with_fallback(request=HELLO, candidates=[one])
    browser = signed_in(olivia)
    body = browser.get("/admin/").content.decode()
    assert "Providers and caches" in body and '<td class="dashboard-bad">open</td>' in body
    assert "reset: 1 not closed" in body and "AI answer cache:" in body
    circuit = ProviderCircuit.objects.get(provider="openai")
    reset = browser.post(
        "/admin/providers/providercircuit/", {"action": "reset_breakers", "_selected_action": [circuit.pk]}
    )
    assert reset.status_code == 302
    body = browser.get("/admin/").content.decode()
    assert '<td class="dashboard-ok">closed</td>' in body and "not closed" not in body
