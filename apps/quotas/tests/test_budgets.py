"""Token and cost budgets: role defaults, user overrides, soft warnings, hard refusals, no overspend."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.errors import RateLimited
from apps.quotas.budgets import BudgetExceeded, budget_reserve, budget_settle
from apps.quotas.models import Budget, BudgetSpend, ModelPrice, Notification

# gpt-4o-mini: 0.15 in, 0.60 out per million tokens (seeded).
MINI = {"provider": "openai", "model": "gpt-4o-mini"}


def test_without_budgets_a_call_is_not_counted(alice):
    reservation = budget_reserve(user=alice, input_tokens=10, max_output_tokens=10, **MINI)
    assert reservation.spend_ids == []
    assert not BudgetSpend.objects.exists()


def test_a_hard_token_budget_refuses_with_limit_used_reset_and_an_alternative(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=1000, hard=True)
    reservation = budget_reserve(user=alice, input_tokens=300, max_output_tokens=300, **MINI)
    budget_settle(reservation=reservation, input_tokens=300, output_tokens=100, cached=False)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, input_tokens=300, max_output_tokens=301, **MINI)
    error = refused.value
    assert isinstance(error, RateLimited) and error.code == "budget_exceeded"  # 429 at the REST door
    assert "daily budget of 1000 tokens across all providers is used up (400 tokens used)" in error.message
    assert "resets at" in error.message and "UTC" in error.message
    assert "cached answer" in error.message
    assert error.details["used"] == "400"
    assert 1 <= error.retry_after <= 86400
    # Nothing was added by the refused call.
    assert BudgetSpend.objects.get(user=alice, period="day").tokens == 400


def test_a_cost_budget_suggests_a_cheaper_model(alice):
    Budget.objects.create(user=alice, period="month", measure="cost", amount=Decimal("0.01"), hard=True)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, provider="openai", model="gpt-4o", input_tokens=10_000, max_output_tokens=0)
    assert "A cheaper model (gpt-4.1-nano)" in refused.value.message


def test_a_provider_budget_points_to_another_provider(alice):
    Budget.objects.create(user=alice, provider="openai", period="day", measure="tokens", amount=10)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, input_tokens=11, max_output_tokens=0, **MINI)
    assert "Another provider with budget left" in refused.value.message
    assert (
        budget_reserve(
            user=alice, provider="anthropic", model="claude-haiku-4-5", input_tokens=11, max_output_tokens=0
        ).spend_ids
        == []
    )


def test_a_users_own_budget_replaces_the_roles(alice, bob):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=1000)
    budget_reserve(user=alice, input_tokens=500, max_output_tokens=0, **MINI)
    with pytest.raises(BudgetExceeded):
        budget_reserve(user=bob, input_tokens=500, max_output_tokens=0, **MINI)


def test_a_soft_budget_warns_and_lets_the_call_through(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=100, hard=False)
    reservation = budget_reserve(user=alice, input_tokens=150, max_output_tokens=0, **MINI)
    assert reservation.spend_ids
    assert reservation.warnings and reservation.warnings[0]["hard"] is False


def test_a_cached_answer_is_not_charged_against_the_budget(alice):
    Budget.objects.create(role="user", period="day", measure="cost", amount=Decimal("1"))
    reservation = budget_reserve(user=alice, input_tokens=1_000_000, max_output_tokens=0, **MINI)
    assert BudgetSpend.objects.get(user=alice).cost == Decimal("0.15")
    budget_settle(reservation=reservation, input_tokens=1_000_000, output_tokens=0, cached=True)
    spend = BudgetSpend.objects.get(user=alice)
    assert spend.cost == 0 and spend.tokens == 0


@pytest.mark.django_db(transaction=True)
def test_parallel_calls_cannot_pass_a_hard_budget(alice, patient_pool):
    # 0.30 USD each (2M input tokens at 0.15): 1.00 USD admits exactly 3 of 12 parallel calls. A price
    # of its own: a transactional test may run after another one's flush removed the seeded prices.
    ModelPrice.objects.create(
        provider="openai",
        model="parallel-test-model",
        input_per_million=Decimal("0.15"),
        output_per_million=Decimal("0.60"),
        effective_from=timezone.now() - dt.timedelta(days=1),
    )
    model = {"provider": "openai", "model": "parallel-test-model"}
    Budget.objects.create(role="user", period="day", measure="cost", amount=Decimal("1.00"))
    callers = 12
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            barrier.wait(timeout=20)
            try:
                budget_reserve(user=alice, input_tokens=2_000_000, max_output_tokens=0, **model)
                outcome = "ok"
            except BudgetExceeded:
                outcome = "refused"
            except Exception as exc:  # shown in the assertion below, not lost in a thread's stderr
                outcome = repr(exc)
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 9
    assert BudgetSpend.objects.get(user=alice, period="day").cost == Decimal("0.90")


# --- warnings --------------------------------------------------------------------------------------------


def test_warnings_are_sent_once_per_threshold_in_the_app_and_by_email(
    alice, alice_client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.QUOTA_WARNING_THRESHOLDS = [50, 80, 95]
    Budget.objects.create(role="user", period="day", measure="tokens", amount=1000)

    def reserve(tokens: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            budget_reserve(user=alice, input_tokens=tokens, max_output_tokens=0, **MINI)

    reserve(400)
    assert not Notification.objects.exists()
    reserve(150)  # 55 %
    reserve(10)  # 56 %: not again
    assert list(Notification.objects.values_list("data__threshold", flat=True)) == [50]
    assert len(mailoutbox) == 1 and "50 %" in mailoutbox[0].body and mailoutbox[0].to == [alice.email]
    reserve(400)  # 96 %: 80 and 95
    assert sorted(Notification.objects.values_list("data__threshold", flat=True)) == [50, 80, 95]
    response = alice_client.get("/api/notifications")
    assert response.status_code == 200
    messages = [row["message"] for row in response.json()["results"]]
    assert len(messages) == 3 and all("daily tokens budget for all providers" in text for text in messages)


def test_the_beat_scan_warns_once_even_when_run_again_as_after_a_restart(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    from apps.quotas.budgets import budget_warnings_scan

    Budget.objects.create(role="user", period="month", measure="cost", amount=Decimal("1.00"))
    # Spend recorded without a reservation's warning (e.g. settled higher than estimated).
    reservation = budget_reserve(user=alice, input_tokens=0, max_output_tokens=0, **MINI)
    budget_settle(reservation=reservation, input_tokens=6_000_000, output_tokens=0, cached=False)  # 0.90 USD
    with django_capture_on_commit_callbacks(execute=True):
        assert budget_warnings_scan() == 2  # 50 and 80
        assert budget_warnings_scan() == 0
    assert Notification.objects.filter(user=alice).count() == 2
    assert not Notification.objects.filter(user=bob).exists()
    assert len(mailoutbox) == 2


def test_notifications_are_the_callers_own(alice, bob_client):
    Notification.objects.create(user=alice, kind="budget_warning", message="m", dedup_key="k")
    assert bob_client.get("/api/notifications").json()["results"] == []
