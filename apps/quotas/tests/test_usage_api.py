"""GET /api/quotas/usage: this day's and month's use per provider, model and tool, and each budget."""

from __future__ import annotations

from decimal import Decimal

from apps.quotas.models import Budget
from apps.quotas.provider_calls import provider_call_admit, provider_call_record


def test_usage_shows_providers_models_tools_and_budgets(alice, alice_client, bob):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10_000)
    admission = provider_call_admit(
        user=alice, provider="openai", model="gpt-4o-mini", input_tokens=1000, max_output_tokens=500
    )
    provider_call_record(
        admission=admission,
        user=alice,
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=1000,
        output_tokens=200,
        latency_ms=10,
        cached=False,
        outcome="ok",
        door="rest",
    )
    provider_call_record(
        admission=None,
        user=bob,
        provider="openai",
        model="gpt-4o",
        input_tokens=5,
        output_tokens=5,
        latency_ms=10,
        cached=False,
        outcome="ok",
        door="rest",
    )
    alice_client.post("/api/mcp/tools/invoke", {"tool_name": "current_time", "parameters": {}}, format="json")
    response = alice_client.get("/api/quotas/usage")
    assert response.status_code == 200
    body = response.json()
    day = [row for row in body["providers"] if row["period"] == "day"]
    assert day == [
        {
            "calls": 1,
            "input_tokens": 1000,
            "output_tokens": 200,
            "cost": "0.00027000",
            "provider": "openai",
            "period": "day",
        }
    ]
    assert [row["model"] for row in body["models"]] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert {"tool": "current_time", "period": "day", "calls": 1} in body["tools"]
    [budget] = body["budgets"]
    assert budget["used"] == "1200" and Decimal(budget["remaining"]) == 8800
    assert budget["source"] == "role user"
    assert body["periods"]["day"]["reset_at"] > body["periods"]["day"]["start"]


def test_usage_needs_a_signed_in_caller(anon_client):
    assert anon_client.get("/api/quotas/usage").status_code == 401
