"""Token and cost budgets: role defaults, user overrides, soft warnings, hard refusals, capped calls,
one figure everywhere, reconciliation with the ledger, no overspend."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import RateLimited
from apps.quotas.budgets import BudgetExceeded, budget_reserve, budget_warnings_scan
from apps.quotas.models import Budget, BudgetSpend, ModelPrice, Notification, UsageRecord
from apps.quotas.provider_calls import provider_call_admit, provider_call_record
from apps.quotas.reconcile import budget_spend_reconcile

# gpt-4o-mini: 0.15 in, 0.60 out per million tokens (seeded).
MINI = {"provider": "openai", "model": "gpt-4o-mini"}


def _record(user, admission, *, input_tokens: int, output_tokens: int, cached: bool = False, **route) -> UsageRecord:
    return provider_call_record(
        user=user,
        admission=admission,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=5,
        cached=cached,
        outcome="ok",
        door="rest",
        **(route or MINI),
    )


def _call(user, *, input_tokens: int, output_tokens: int, max_output_tokens: int | None = None) -> UsageRecord:
    """A whole provider call: admitted (reserving up to max_output_tokens), then recorded with its use."""
    admission = provider_call_admit(
        user=user,
        input_tokens=input_tokens,
        max_output_tokens=output_tokens if max_output_tokens is None else max_output_tokens,
        **MINI,
    )
    return _record(user, admission, input_tokens=input_tokens, output_tokens=output_tokens)


def _spend(user, period: str = "day", provider: str = "") -> BudgetSpend:
    return BudgetSpend.objects.get(user=user, period=period, provider=provider)


def test_without_budgets_nothing_is_reserved_but_the_spend_is_still_counted(alice):
    reservation = budget_reserve(user=alice, input_tokens=10, max_output_tokens=10, **MINI)
    assert reservation.spend_keys == [] and not BudgetSpend.objects.exists()
    _record(alice, None, input_tokens=10, output_tokens=5)
    # Overall and for the provider, by day and by month: ready for a budget created later.
    assert BudgetSpend.objects.filter(user=alice).count() == 4
    assert {(row.tokens, row.reserved_tokens) for row in BudgetSpend.objects.filter(user=alice)} == {(15, 0)}


def test_a_hard_token_budget_refuses_with_limit_used_reset_and_no_invented_alternative(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=1000, hard=True)
    _call(alice, input_tokens=300, output_tokens=100, max_output_tokens=300)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, input_tokens=590, max_output_tokens=301, **MINI)  # 10 left for output
    error = refused.value
    assert isinstance(error, RateLimited) and error.code == "budget_exceeded"  # 429 at the REST door
    assert "daily budget of 1000 tokens across all providers has 600 tokens left" in error.message
    assert "(400 tokens used)" in error.message
    assert "resets at" in error.message and "UTC" in error.message
    assert "cached answer" not in error.message  # nobody said one exists
    assert error.details["used"] == "400"
    assert 1 <= error.retry_after <= 86400
    # Nothing was added by the refused call.
    assert (_spend(alice).tokens, _spend(alice).reserved_tokens) == (400, 0)


def test_a_refusal_offers_a_cached_answer_only_when_the_caller_says_one_exists(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10, hard=True)
    for exists in (False, True):
        with pytest.raises(BudgetExceeded) as refused:
            provider_call_admit(
                user=alice, input_tokens=20, max_output_tokens=5, cached_answer=lambda exists=exists: exists, **MINI
            )
        assert ("An answer to this same question is cached" in refused.value.message) is exists
        assert refused.value.details["cached_answer"] is exists


def test_a_cost_budget_suggests_a_cheaper_model(alice):
    Budget.objects.create(user=alice, period="month", measure="cost", amount=Decimal("0.01"), hard=True)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, provider="openai", model="gpt-4o", input_tokens=10_000, max_output_tokens=0)
    assert "A cheaper model (gpt-4.1-nano) may still fit." in refused.value.message


def test_a_provider_budget_points_to_another_provider(alice):
    Budget.objects.create(user=alice, provider="openai", period="day", measure="tokens", amount=10)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(user=alice, input_tokens=11, max_output_tokens=0, **MINI)
    assert "Another provider with budget left still works." in refused.value.message
    other = budget_reserve(
        user=alice, provider="anthropic", model="claude-haiku-4-5", input_tokens=11, max_output_tokens=0
    )
    assert other.spend_keys == []


def test_a_users_own_budget_replaces_the_roles(alice, bob):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=1000)
    budget_reserve(user=alice, input_tokens=500, max_output_tokens=0, **MINI)
    with pytest.raises(BudgetExceeded):
        budget_reserve(user=bob, input_tokens=500, max_output_tokens=0, **MINI)


def test_a_soft_budget_warns_and_lets_the_call_through(alice):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=100, hard=False)
    reservation = budget_reserve(user=alice, input_tokens=150, max_output_tokens=0, **MINI)
    assert reservation.spend_keys and not reservation.capped  # a soft budget never caps
    assert reservation.warnings and reservation.warnings[0]["hard"] is False


def test_a_cached_answer_is_not_charged_against_the_budget(alice):
    Budget.objects.create(role="user", period="day", measure="cost", amount=Decimal("1"))
    admission = provider_call_admit(user=alice, input_tokens=1_000_000, max_output_tokens=0, **MINI)
    assert _spend(alice).reserved_cost == Decimal("0.15")
    _record(alice, admission, input_tokens=1_000_000, output_tokens=0, cached=True)
    spend = _spend(alice)
    assert (spend.cost, spend.tokens, spend.reserved_cost, spend.reserved_tokens) == (0, 0, 0, 0)


# --- 5: a budget created mid-period -------------------------------------------------------------------


def test_a_budget_created_mid_period_counts_the_spend_already_in_the_ledger(alice, alice_client):
    # alice spends 0.00067 USD this month with no budget at all, then gets a 0.0003 USD monthly budget.
    _record(alice, None, input_tokens=1000, output_tokens=867)  # 0.00015 + 0.0005202 = 0.0006702
    Budget.objects.create(user=alice, period="month", measure="cost", amount=Decimal("0.0003"))
    [budget] = alice_client.get("/api/quotas/usage").json()["budgets"]
    assert (budget["used"], budget["remaining"]) == ("0.0006702", "0")
    with pytest.raises(BudgetExceeded) as refused:
        provider_call_admit(user=alice, input_tokens=1, max_output_tokens=100, **MINI)
    assert "(0.0006702 USD used)" in refused.value.message


def test_a_budget_counts_ledger_spend_from_before_spend_rows_were_kept(alice, alice_client):
    # Ledger rows with no spend row at all (written before every call was counted): the first row made
    # for the period starts from the ledger.
    UsageRecord.objects.create(user=alice, door="rest", outcome="ok", input_tokens=700, output_tokens=100, **MINI)
    UsageRecord.objects.create(user=alice, door="rest", outcome="ok", cached=True, input_tokens=900, **MINI)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=1000)
    assert alice_client.get("/api/quotas/usage").json()["budgets"][0]["used"] == "800"
    reservation = budget_reserve(user=alice, input_tokens=100, max_output_tokens=1024, **MINI)
    assert reservation.max_output_tokens == 100  # 1000 - 800 - 100 of input
    assert _spend(alice).tokens == 800


def test_a_budget_deleted_and_created_again_counts_the_calls_made_in_between(alice):
    budget = Budget.objects.create(user=alice, period="day", measure="tokens", amount=1000)
    _call(alice, input_tokens=100, output_tokens=100)
    budget.delete()
    _call(alice, input_tokens=300, output_tokens=100)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=1000)
    assert budget_reserve(user=alice, input_tokens=100, max_output_tokens=1024, **MINI).max_output_tokens == 300


# --- 6: capped, not refused ---------------------------------------------------------------------------


def test_a_small_token_budget_caps_the_first_call_instead_of_refusing_it(alice):
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=100)
    admission = provider_call_admit(user=alice, input_tokens=10, max_output_tokens=1024, **MINI)
    assert admission.capped and admission.max_output_tokens == 90
    assert (_spend(alice).reserved_tokens, _spend(alice).tokens) == (100, 0)  # no more than the budget has
    _record(alice, admission, input_tokens=10, output_tokens=90)
    assert (_spend(alice).reserved_tokens, _spend(alice).tokens) == (0, 100)


def test_a_cost_budget_caps_the_output_to_what_its_money_buys(alice):
    Budget.objects.create(user=alice, period="month", measure="cost", amount=Decimal("0.0003"))
    admission = provider_call_admit(user=alice, input_tokens=100, max_output_tokens=1024, **MINI)
    # 0.0003 - 100 x 0.15e-6 = 0.000285 USD buys 475 output tokens at 0.60 per million.
    assert admission.max_output_tokens == 475
    assert _spend(alice, "month").reserved_cost == Decimal("0.0003")


def test_a_call_is_refused_only_when_too_little_is_left_for_a_useful_answer(alice, settings):
    settings.QUOTA_MIN_OUTPUT_TOKENS = 32
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=100)
    with pytest.raises(BudgetExceeded) as refused:
        provider_call_admit(user=alice, input_tokens=80, max_output_tokens=1024, **MINI)  # 20 left for output
    assert "has 100 tokens left, too little for this call" in refused.value.message
    settings.QUOTA_MIN_OUTPUT_TOKENS = 16
    assert provider_call_admit(user=alice, input_tokens=80, max_output_tokens=1024, **MINI).max_output_tokens == 20
    # A call asking for less than the floor gets what it asks if that fits.
    Budget.objects.filter(user=alice).update(amount=110)
    assert provider_call_admit(user=alice, input_tokens=0, max_output_tokens=5, **MINI).max_output_tokens == 5


# --- 8: one figure everywhere -------------------------------------------------------------------------


def test_warnings_the_usage_api_and_the_admin_show_the_one_figure_the_ledger_counted(
    alice, alice_client, olivia, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.QUOTA_WARNING_THRESHOLDS = [50, 80, 95]
    Budget.objects.create(role="user", period="day", measure="tokens", amount=200)
    with django_capture_on_commit_callbacks(execute=True):
        admission = provider_call_admit(user=alice, input_tokens=100, max_output_tokens=75, **MINI)
        assert not Notification.objects.exists()  # a reservation is not spend: no warning for it
        _record(alice, admission, input_tokens=100, output_tokens=62)  # 162 of 200
    notifications = list(Notification.objects.filter(user=alice).order_by("data__threshold"))
    assert [n.data["threshold"] for n in notifications] == [50, 80]
    assert all("(162 of 200)" in n.message and n.data["used"] == "162" for n in notifications)
    assert len(mailoutbox) == 2 and "(162 of 200)" in mailoutbox[0].body
    [budget] = alice_client.get("/api/quotas/usage").json()["budgets"]
    assert (budget["used"], budget["reserved"], budget["remaining"]) == ("162", "0", "38")
    page_reader = Client()
    page_reader.force_login(alice)
    assert "162 of 200" in page_reader.get("/settings/usage/").content.decode()
    operator = Client()
    operator.force_login(olivia)
    page = operator.get("/admin/quotas/budgetspend/")
    assert page.status_code == 200 and "· 162 tokens<" in page.content.decode()


def test_a_warning_is_sent_once_per_threshold(alice, settings, django_capture_on_commit_callbacks, mailoutbox):
    settings.QUOTA_WARNING_THRESHOLDS = [50, 80, 95]
    Budget.objects.create(role="user", period="day", measure="tokens", amount=1000)
    with django_capture_on_commit_callbacks(execute=True):
        _call(alice, input_tokens=400, output_tokens=0)
        assert not Notification.objects.exists()
        _call(alice, input_tokens=150, output_tokens=0)  # 55 %
        _call(alice, input_tokens=10, output_tokens=0)  # 56 %: not again
        assert list(Notification.objects.values_list("data__threshold", flat=True)) == [50]
        _call(alice, input_tokens=400, output_tokens=0)  # 96 %: 80 and 95
    assert sorted(Notification.objects.values_list("data__threshold", flat=True)) == [50, 80, 95]
    assert len(mailoutbox) == 3 and mailoutbox[0].to == [alice.email]


def test_the_beat_scan_warns_once_even_when_run_again_as_after_a_restart(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    Budget.objects.create(role="user", period="month", measure="cost", amount=Decimal("1.00"))
    # Spend counted while the warnings were not sent (e.g. the mail server was being replaced).
    _record(alice, None, input_tokens=6_000_000, output_tokens=0)  # 0.90 USD
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert budget_warnings_scan() == 2  # 50 and 80
        assert budget_warnings_scan() == 0
    assert Notification.objects.filter(user=alice).count() == 2
    assert not Notification.objects.filter(user=bob).exists()


def test_notifications_are_the_callers_own(alice, bob_client):
    Notification.objects.create(user=alice, kind="budget_warning", message="m", dedup_key="k")
    assert bob_client.get("/api/notifications").json()["results"] == []


# --- 9: reconciliation ---------------------------------------------------------------------------------


def test_reconciliation_audits_a_counter_that_differs_from_the_ledger_and_sets_it_to_the_ledger(alice, bob):
    Budget.objects.create(role="user", period="day", measure="tokens", amount=10_000)
    _call(alice, input_tokens=100, output_tokens=50)
    _call(bob, input_tokens=10, output_tokens=5)
    assert budget_spend_reconcile() == []  # every call's count commits with its ledger row
    BudgetSpend.objects.filter(user=alice, period="day", provider="").update(tokens=999, cost=Decimal("1"))
    [difference] = budget_spend_reconcile()
    assert (difference.user_id, difference.provider, difference.period) == (alice.pk, "", "day")
    assert (difference.counted_tokens, difference.ledger_tokens) == (999, 150)
    assert (_spend(alice).tokens, _spend(alice).cost) == (150, Decimal("0.000045"))
    event = AuditEvent.objects.get(action="budget.reconciled")
    assert (event.subject_id, event.category, event.error_code) == (alice.pk, "quota", "budget_spend_drift")
    assert (event.data["counted"], event.data["ledger"], event.data["corrected"]) == (
        [999, "1"],
        [150, "0.000045"],
        True,
    )
    assert budget_spend_reconcile() == []


def test_the_reconcile_command_and_the_beat_job_run_the_same_reconciliation(alice, capsys):
    from django_celery_beat.models import PeriodicTask

    from apps.quotas.tasks import budget_spend_reconcile_task

    _record(alice, None, input_tokens=10, output_tokens=10)
    BudgetSpend.objects.filter(user=alice).update(tokens=0)
    call_command("budget_reconcile")
    assert "4 difference(s) found and corrected" in capsys.readouterr().out
    assert budget_spend_reconcile_task() == 0
    assert PeriodicTask.objects.filter(task="quotas.budget_spend_reconcile", enabled=True).exists()


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
    assert _spend(alice).reserved_cost == Decimal("0.90")
