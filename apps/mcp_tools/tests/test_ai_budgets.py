"""Budgets on the AI tools' provider calls, end to end against the loopback fake providers: a call is
capped to what the budget has left and says so, a refusal offers only a cached answer that exists,
and 64 parallel calls against a nearly spent budget overspend by at most one capped call."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.limiter import limiter_shared, limits_reset
from apps.mcp_tools.assistant import assistant_complete
from apps.mcp_tools.tests.pipeline_helpers import invoke, result_of
from apps.mcp_tools.tests.test_ai_tools import fast_calls, store_key  # noqa: F401 - the AI tools' fixtures
from apps.providers.answer_cache import answer_l1_clear
from apps.providers.calls import CompletionRequest, Message
from apps.quotas.budgets import BudgetExceeded, period_start
from apps.quotas.models import Budget, BudgetSpend, ModelPrice, UsageRecord
from apps.quotas.provider_calls import provider_call_record
from apps.quotas.reconcile import budget_spend_reconcile

pytestmark = pytest.mark.django_db


def _max_tokens_sent(fake_provider) -> list[int]:
    return [call["body"]["max_tokens"] for call in fake_provider.model_calls()]


def test_a_100_token_budget_caps_the_first_call_and_the_answer_says_so(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=100)
    # A question of its own: answers of other tests' users with the same id may be cached in this process.
    result = result_of(alice_client, "ai_complete", {"prompt": "hello, small budget"})
    assert result["text"] == "echo: hello, small budget"  # answered, not refused "(0 tokens used)"
    capped_to = result["max_tokens_capped"]["capped_to"]
    assert result["max_tokens_capped"]["asked"] == 1024 and 32 <= capped_to < 100
    assert _max_tokens_sent(fake_provider) == [capped_to]  # the provider was asked for no more
    assert any(f"limited to {capped_to} output tokens (asked: 1024)" in notice for notice in result["notices"])
    # A capped answer may be cut short, so it is not served from the cache to the question as asked.
    again = invoke(alice_client, "ai_complete", {"prompt": "hello, small budget"})
    assert again.status_code == 429 or again.json()["result"]["cached"] is False


def test_a_long_answer_is_cut_at_the_cap_and_counted_as_used(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=300)
    result = result_of(alice_client, "ai_complete", {"prompt": "word " * 160})
    capped_to = result["max_tokens_capped"]["capped_to"]
    assert result["usage"]["output_tokens"] == capped_to  # cut there, as a real model stops
    spend = BudgetSpend.objects.get(user=alice, period="day", provider="")
    record = UsageRecord.objects.get(user=alice)
    assert spend.tokens == record.input_tokens + record.output_tokens and spend.reserved_tokens == 0


def test_a_refusal_does_not_offer_a_cached_answer_that_does_not_exist(fake_provider, alice, alice_client):
    store_key(fake_provider, alice)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=10)
    refused = invoke(alice_client, "ai_complete", {"prompt": "a question never asked before"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "cached" not in error["message"] and error["details"]["cached_answer"] is False
    assert fake_provider.model_calls() == []


def test_another_users_cached_answer_is_not_offered_to_a_refused_user(
    fake_provider, alice, alice_client, bob, bob_client
):
    store_key(fake_provider, bob)
    assert result_of(bob_client, "ai_complete", {"prompt": "what is due today, over budget?"})["cached"] is False
    assert result_of(bob_client, "ai_complete", {"prompt": "what is due today, over budget?"})["cached"] is True
    store_key(fake_provider, alice)
    Budget.objects.create(user=alice, period="day", measure="tokens", amount=10)
    refused = invoke(alice_client, "ai_complete", {"prompt": "what is due today, over budget?"})
    assert refused.status_code == 429
    assert "cached" not in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["cached_answer"] is False


# --- 64 at once -----------------------------------------------------------------------------------------

CALLERS = 64


@pytest.fixture
def patient_pool(monkeypatch):
    """64 callers in one process share its few pooled connections: they wait for one instead of being
    refused after the production half second, so every call reaches the budget check."""
    pool = connection.settings_dict["OPTIONS"].get("pool")
    if isinstance(pool, dict):
        monkeypatch.setitem(pool, "timeout", 60)
        connection.close_pool()
    yield
    if isinstance(pool, dict):
        connection.close_pool()  # the next connection comes from a pool with the settings restored


IN_PER_MILLION, OUT_PER_MILLION = Decimal("1"), Decimal("2")
LEFT = Decimal("0.0002")  # what the budget has left when the 64 calls start: a few small capped calls


@pytest.mark.services
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks across connections need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_64_parallel_calls_against_a_nearly_spent_budget_overspend_by_at_most_one_capped_call(
    fake_provider, alice, settings, patient_pool
):
    if not limiter_shared():
        pytest.skip("needs the limiter in Redis (REDIS_URL)")
    settings.QUOTA_PROVIDER_RATE = "100000/minute"
    settings.QUOTA_PROVIDER_BURST = 100_000
    settings.AI_CACHE_ENABLED = False
    limits_reset()
    answer_l1_clear()
    store_key(fake_provider, alice)
    model = "budget-race-model"  # a price of its own: a transactional test may follow another one's flush
    ModelPrice.objects.create(
        provider="openai",
        model=model,
        input_per_million=IN_PER_MILLION,
        output_per_million=OUT_PER_MILLION,
        effective_from=timezone.now() - dt.timedelta(minutes=1),
    )
    # Spent before the budget existed, then a budget with LEFT to spare: it must count the spend so far.
    spent = provider_call_record(
        user=alice,
        admission=None,
        provider="openai",
        model=model,
        input_tokens=5000,
        output_tokens=2500,
        latency_ms=1,
        cached=False,
        outcome="ok",
        door="rest",
    ).cost
    amount = spent + LEFT
    Budget.objects.create(user=alice, period="month", measure="cost", amount=amount)
    barrier = threading.Barrier(CALLERS)
    answers, refusals, errors = [], [], []
    lock = threading.Lock()

    def call(n: int) -> None:
        request = CompletionRequest(messages=(Message("user", f"question {n:02d}: what should I do next?"),))
        try:
            barrier.wait(timeout=30)
            try:
                answer = assistant_complete(
                    user=alice, request=request, tool_name="ai_complete", provider="openai", model=model, door="rest"
                )
            except BudgetExceeded as refusal:
                with lock:
                    refusals.append(refusal)
            else:
                with lock:
                    answers.append(answer)
        except Exception as exc:  # reported by the assertion below, not lost in a thread
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(answers) + len(refusals) == CALLERS
    assert answers and refusals  # the budget had room for a few, never for 64
    assert all(answer.response is not None and answer.capped is not None for answer in answers)
    # The most one admitted call could cost: its real input and the output it was capped to.
    one_call = max(
        (a.response.usage.input_tokens * IN_PER_MILLION + a.capped[1] * OUT_PER_MILLION) / 1_000_000 for a in answers
    )
    month = dt.datetime.combine(period_start("month", timezone.now()), dt.time(), tzinfo=dt.UTC)
    ledger = sum(row.cost for row in UsageRecord.objects.filter(user=alice, created_at__gte=month))
    assert ledger <= amount + one_call
    assert all(a.response.usage.output_tokens <= a.capped[1] for a in answers)
    # The counter is the ledger to the last decimal, and nothing stays reserved.
    spend = BudgetSpend.objects.get(user=alice, period="month", provider="")
    assert (spend.cost, spend.reserved_cost, spend.reserved_tokens) == (ledger, 0, 0)
    assert budget_spend_reconcile() == []
