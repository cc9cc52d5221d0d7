"""Operators set role defaults and per-user overrides in the admin; the change applies to the next request."""

from __future__ import annotations

from decimal import Decimal

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
    assert top_by_cost[0]["total_cost"] == Decimal("0.45")
    assert list(page.context["top_refused"]) == [{"user__username": "alice", "refusals": 2}]
    assert b"top users by cost" in page.content
    # Money as money: the sum's 19 places are not shown, in the top table or in the ledger's rows.
    assert "<td>$0.45</td>" in page.content.decode() and "0.450000" not in page.content.decode()
    assert "$0.15" in page.content.decode()


def test_prices_budgets_and_ledger_rows_show_money_as_money(olivia, alice):
    from apps.quotas.models import Budget, ModelPrice, UsageRecord

    UsageRecord.objects.create(
        user=alice, door="rest", provider="openai", model="m", cost=Decimal("0.0000216"), outcome="ok"
    )
    ModelPrice.objects.create(provider="openai", model="m", input_per_million=Decimal("0.15"),
                              output_per_million=Decimal("0.6"), effective_from="2026-01-01T00:00:00Z")  # fmt: skip
    Budget.objects.create(user=alice, period="month", measure="cost", amount=Decimal("5"), hard=True)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=Decimal("100000"), hard=False)
    admin = _admin(olivia)

    record = UsageRecord.objects.get()
    ledger = admin.get("/admin/quotas/usagerecord/").content.decode()
    detail = admin.get(f"/admin/quotas/usagerecord/{record.pk}/change/").content.decode()
    prices = admin.get("/admin/quotas/modelprice/").content.decode()
    budgets = admin.get("/admin/quotas/budget/").content.decode()
    assert "$0.0000216" in ledger and "0.00002160" not in ledger
    assert "$0.0000216" in detail and "0.00002160" not in detail
    assert "$0.15" in prices and "$0.60" in prices and "0.150000" not in prices
    assert "$5.00" in budgets and "100,000 tokens" in budgets
