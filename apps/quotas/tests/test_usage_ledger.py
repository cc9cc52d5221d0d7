"""The usage ledger: provider calls recorded with their cost from the price table at call time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.errors import InvalidInput
from apps.quotas.models import ModelPrice, UsageRecord
from apps.quotas.provider_calls import provider_call_record
from apps.quotas.services import price_for


def _record(user, **overrides) -> UsageRecord:
    values = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 1_000_000,
        "output_tokens": 500_000,
        "latency_ms": 812.5,
        "cached": False,
        "outcome": "ok",
        "door": "mcp",
        "tool_name": "chat",
    }
    values.update(overrides)
    return provider_call_record(user=user, admission=None, **values)


def test_the_seeded_price_table_knows_current_models(db):
    price = price_for(provider="openai", model="gpt-4o-mini")
    assert price is not None
    assert price.input_per_million == Decimal("0.15")
    assert price_for(provider="anthropic", model="claude-sonnet-4-5").output_per_million == Decimal("15")


def test_the_cost_comes_from_the_price_table_and_is_stored(alice):
    record = _record(alice)
    # 1M input at 0.15 + 0.5M output at 0.60 per million.
    assert record.cost == Decimal("0.45")
    assert record.price == price_for(provider="openai", model="gpt-4o-mini")
    UsageRecord.objects.get(pk=record.pk)


def test_a_later_price_applies_to_later_calls_only(alice):
    before = _record(alice, input_tokens=2_000_000, output_tokens=0)
    ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o-mini",
        input_per_million=Decimal("1.00"),
        output_per_million=Decimal("2.00"),
        effective_from=timezone.now() - dt.timedelta(seconds=1),
    )
    after = _record(alice, input_tokens=2_000_000, output_tokens=0)
    assert before.cost == Decimal("0.30")
    assert after.cost == Decimal("2.00")
    before.refresh_from_db()
    assert before.cost == Decimal("0.30")
    # A price that starts tomorrow does not apply today.
    ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o-mini",
        input_per_million=Decimal("9"),
        output_per_million=Decimal("9"),
        effective_from=timezone.now() + dt.timedelta(days=1),
    )
    assert _record(alice, input_tokens=1_000_000, output_tokens=0).cost == Decimal("1.00")


def test_a_cached_answer_costs_nothing(alice):
    record = _record(alice, cached=True)
    assert record.cost == 0
    assert record.price is None
    assert record.cached


def test_an_unknown_model_is_recorded_unpriced(alice):
    record = _record(alice, provider="openai_compatible", model="llama-local")
    assert record.cost == 0 and record.price is None


def test_negative_token_counts_are_refused(alice):
    with pytest.raises(InvalidInput):
        _record(alice, input_tokens=-1)
    assert not UsageRecord.objects.exists()


def test_operators_edit_prices_and_read_but_never_edit_the_ledger(olivia, alice):
    record = _record(alice)
    client = Client()
    client.force_login(olivia)
    price = price_for(provider="openai", model="gpt-4o")
    assert client.get(f"/admin/quotas/modelprice/{price.pk}/change/").status_code == 200
    assert client.get("/admin/quotas/usagerecord/").status_code == 200
    assert client.get(f"/admin/quotas/usagerecord/{record.pk}/change/").status_code == 200  # view only
    response = client.post(f"/admin/quotas/usagerecord/{record.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert UsageRecord.objects.filter(pk=record.pk).exists()
