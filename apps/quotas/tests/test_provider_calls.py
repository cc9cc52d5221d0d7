"""The provider call path's API: admit (rate + budgets) before a call, record (ledger + settle) after it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import InvalidInput
from apps.core.limit_reports import RateLimitExceeded
from apps.quotas.budgets import BudgetExceeded
from apps.quotas.models import Budget, BudgetSpend, Notification, UsageRecord
from apps.quotas.provider_calls import provider_call_admit, provider_call_record, provider_quota_exhausted

# gpt-4o-mini: 0.15 in, 0.60 out per million tokens (seeded by migration 0003).
MINI = {"provider": "openai", "model": "gpt-4o-mini"}


def _record(user, admission, **overrides) -> UsageRecord:
    values = {
        "input_tokens": 1_000_000,
        "output_tokens": 500_000,
        "latency_ms": 640.0,
        "cached": False,
        "outcome": "ok",
        "door": "mcp",
        "tool_name": "chat",
        **MINI,
    }
    values.update(overrides)
    return provider_call_record(user=user, admission=admission, **values)


def test_an_admitted_call_is_recorded_with_its_cost_and_settles_the_budget(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10_000_000)
    admission = provider_call_admit(user=alice, input_tokens=1_000_000, max_output_tokens=4_000_000, **MINI)
    assert BudgetSpend.objects.get(user=alice, period="day").reserved_tokens == 5_000_000  # the most it can use
    record = _record(alice, admission, token_id=7)
    assert record.cost == Decimal("0.45")  # 1M x 0.15 + 0.5M x 0.60 per million
    assert (record.door, record.tool_name, record.token_id, record.outcome) == ("mcp", "chat", 7, "ok")
    spend = BudgetSpend.objects.get(user=alice, period="day", provider="")
    assert (spend.tokens, spend.reserved_tokens) == (1_500_000, 0)  # what it used
    event = AuditEvent.objects.get(action="provider.called")
    assert (event.category, event.outcome, event.target_id) == ("provider", "success", "openai/gpt-4o-mini")
    assert (event.tokens, event.cost, event.subject_id) == (1_500_000, Decimal("0.45"), alice.pk)


def test_a_failed_call_leaves_a_failure_event_with_its_kind_and_no_cost(alice):
    _record(alice, None, input_tokens=0, output_tokens=0, outcome="rate_limited")
    event = AuditEvent.objects.get(action="provider.called")
    assert (event.outcome, event.error_code, event.tokens, event.cost) == ("failure", "rate_limited", 0, 0)


def test_a_hard_budget_refuses_naming_the_limit_the_use_the_reset_and_an_alternative(alice):
    Budget.objects.create(role="user", provider="openai", period="month", measure="cost", amount=Decimal("1"))
    _record(alice, provider_call_admit(user=alice, input_tokens=1_000_000, max_output_tokens=500_000, **MINI))
    with pytest.raises(BudgetExceeded) as refused:
        provider_call_admit(user=alice, input_tokens=4_000_000, max_output_tokens=0, **MINI)
    error = refused.value
    assert error.code == "budget_exceeded" and error.kind == "limited"
    assert "monthly budget of 1 USD for openai has 0.55 USD left, too little for this call" in error.message
    assert "(0.45 USD used)" in error.message
    assert "resets at" in error.message and "Another provider with budget left" in error.message
    assert error.details["limit"] == "budget cost/month openai"
    assert error.retry_after >= 1


def test_the_provider_rate_refuses_past_its_burst_naming_the_provider(alice, settings):
    settings.QUOTA_PROVIDER_RATE = "2/minute"
    settings.QUOTA_PROVIDER_BURST = 2
    for _ in range(2):
        provider_call_admit(user=alice, input_tokens=10, max_output_tokens=10, **MINI)
    # Another provider has its own bucket.
    provider_call_admit(
        user=alice, provider="anthropic", model="claude-sonnet-4-5", input_tokens=1, max_output_tokens=1
    )
    with pytest.raises(RateLimitExceeded) as refused:
        provider_call_admit(user=alice, input_tokens=10, max_output_tokens=10, **MINI)
    assert refused.value.details["limit"] == "provider openai"
    assert "provider openai limit is 2 per minute" in refused.value.message


def test_a_cached_answer_is_recorded_at_no_cost_and_spends_no_budget(alice):
    Budget.objects.create(role="user", period="day", measure="cost", amount=Decimal("1"))
    record = _record(alice, None, cached=True)
    assert record.cached and record.cost == 0 and record.price is None
    assert not BudgetSpend.objects.exclude(tokens=0, cost=0).exists()


def test_a_failed_call_hands_back_its_reservation(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=1000)
    admission = provider_call_admit(user=alice, input_tokens=400, max_output_tokens=600, **MINI)
    _record(alice, admission, input_tokens=0, output_tokens=0, outcome="provider_unavailable")
    spend = BudgetSpend.objects.get(user=alice, period="day")
    assert (spend.tokens, spend.reserved_tokens) == (0, 0)
    provider_call_admit(user=alice, input_tokens=400, max_output_tokens=600, **MINI)  # the whole budget again


def test_a_soft_budget_passed_is_reported_on_the_admission(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=100, hard=False)
    admission = provider_call_admit(user=alice, input_tokens=100, max_output_tokens=50, **MINI)
    assert [warning["limit"] for warning in admission.warnings] == ["budget tokens/day all providers"]


def test_bad_token_counts_and_a_foreign_admission_are_validation_errors(alice, bob):
    with pytest.raises(InvalidInput) as negative:
        provider_call_admit(user=alice, input_tokens=-1, max_output_tokens=10, **MINI)
    assert negative.value.code == "validation_error"
    admission = provider_call_admit(user=alice, input_tokens=1, max_output_tokens=1, **MINI)
    with pytest.raises(InvalidInput) as foreign:
        _record(bob, admission)
    assert foreign.value.code == "validation_error"
    assert not UsageRecord.objects.exists()


def test_an_upstream_out_of_quota_warns_the_user_once_a_day(alice, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert provider_quota_exhausted(user=alice, provider="openai") is not None
        assert provider_quota_exhausted(user=alice, provider="openai") is None
        assert provider_quota_exhausted(user=alice, provider="anthropic") is not None
    assert Notification.objects.filter(user=alice, kind="provider_quota").count() == 2
    assert len(mailoutbox) == 2 and "out of quota" in mailoutbox[0].subject
