"""Operators set role defaults and per-user overrides in the admin; the change applies to the next request."""

from __future__ import annotations

from django.test import Client

from apps.audit.models import AuditEvent
from apps.quotas.models import UserRateLimit


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_operator_overrides_a_users_rate_in_the_admin(olivia, alice, alice_client, settings):
    settings.QUOTA_USER_RATE = "1/hour"
    settings.QUOTA_USER_BURST = 1
    assert alice_client.get("/api/todos/").status_code == 200
    assert alice_client.get("/api/todos/").status_code == 429
    response = _admin(olivia).post(
        "/admin/quotas/userratelimit/add/", {"user": alice.pk, "rate": "50/hour", "burst": 4, "reason": "demo"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert UserRateLimit.objects.get(user=alice).burst == 4
    after = alice_client.get("/api/todos/")
    assert after.status_code == 200
    assert after["RateLimit-Limit"] == "4"
    assert AuditEvent.objects.filter(target_type__icontains="userratelimit").exists()


def test_an_operator_sets_a_role_default_and_a_bad_rate_is_refused(olivia):
    client = _admin(olivia)
    bad = client.post("/admin/quotas/roleratelimit/add/", {"role": "user", "rate": "lots", "burst": 3})
    assert bad.status_code == 200
    assert b"Use a rate such as" in bad.content
    good = client.post("/admin/quotas/roleratelimit/add/", {"role": "user", "rate": "30/minute", "burst": 3})
    assert good.status_code == 302


def test_ordinary_users_cannot_reach_the_rate_limit_admin(alice):
    assert _admin(alice).get("/admin/quotas/userratelimit/").status_code == 302


def test_the_ledger_page_shows_top_users_by_cost_and_refusals(olivia, alice, bob, alice_client, settings):
    from apps.quotas.provider_calls import provider_call_record

    for user, tokens in ((alice, 1_000_000), (bob, 3_000_000)):
        provider_call_record(
            admission=None,
            user=user,
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=tokens,
            output_tokens=0,
            latency_ms=1,
            cached=False,
            outcome="ok",
            door="rest",
        )
    settings.MCP_RATE_LIMIT_DEFAULT = "1/hour"
    for _ in range(3):
        alice_client.post("/api/mcp/tools/invoke", {"tool_name": "current_time", "parameters": {}}, format="json")
    page = _admin(olivia).get("/admin/quotas/usagerecord/")
    assert page.status_code == 200
    top_by_cost = page.context["top_by_cost"]
    assert [row["user__username"] for row in top_by_cost] == ["bob", "alice"]
    assert str(top_by_cost[0]["total_cost"]) == "0.45000000"
    assert list(page.context["top_refused"]) == [{"user__username": "alice", "refusals": 2}]
    assert b"top users by cost" in page.content
