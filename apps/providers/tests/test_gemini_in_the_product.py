"""Gemini end to end, as a user meets it: the key stored and checked through the API, the AI tools,
the answer cache, the ledger priced from the module's own rows, a budget, and fallback to another
provider. Nothing outside apps/providers/ was told about Gemini (see tests/test_provider_names.py).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.mcp_tools.tests.pipeline_helpers import invoke, result_of

# fast_calls: the AI tool tests' short retries and timeouts (autouse).
from apps.mcp_tools.tests.test_ai_tools import fast_calls  # noqa: F401
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import gemini_key, openai_key

pytestmark = pytest.mark.django_db
KEYS = "/api/api-keys"


def _store(client, fake_provider, provider: str = "gemini", maker=gemini_key) -> dict:
    api_key = maker()
    fake_provider.valid_keys.add(api_key)
    response = client.post(KEYS, {"provider": provider, "api_key": api_key, "validate": True}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["key"]


def test_the_providers_list_offers_gemini_with_its_key_format(alice_client):
    providers = {p["name"]: p for p in alice_client.get(f"{KEYS}/providers").json()["providers"]}

    gemini = providers["gemini"]
    assert gemini["display_name"] == "Google Gemini" and "tools" in gemini["features"]
    assert gemini["key_format"]["prefixes"] == ["AIza"]
    assert gemini["default_base_url"] == "https://generativelanguage.googleapis.com"


def test_a_gemini_key_is_stored_masked_and_checked_live(alice_client, fake_provider):
    key = _store(alice_client, fake_provider)

    assert key["provider"] == "gemini" and key["mask"].startswith("AIza...") and len(key["mask"]) == 11
    assert key["last_validation_result"] == "valid"
    assert fake_provider.requests[-1] == {"path": "/v1beta/models?pageSize=50", "provider": "gemini"}
    wrong = alice_client.post(KEYS, {"provider": "gemini", "api_key": openai_key()}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_key_format"


def test_the_ai_tools_answer_from_gemini_and_the_second_ask_comes_from_the_cache(alice, alice_client, fake_provider):
    from apps.quotas.models import UsageRecord

    _store(alice_client, fake_provider)

    first = result_of(alice_client, "ai_complete", {"prompt": "hello"})
    again = result_of(alice_client, "ai_complete", {"prompt": "hello"})

    assert (first["provider"], first["model"], first["text"]) == ("gemini", "gemini-2.5-flash", "echo: hello")
    assert first["cached"] is False and again["cached"] is True
    assert len(fake_provider.model_calls()) == 1
    rows = list(UsageRecord.objects.filter(user=alice).order_by("id"))
    # Priced from the Gemini module's own price rows, loaded into the ledger's table after migrate.
    assert rows[0].provider == "gemini" and rows[0].cost > Decimal(0) and rows[1].cost == 0

    result_of(alice_client, "create_todos", {"items": [{"title": "write report", "priority": "high"}]})
    summary = result_of(alice_client, "ai_summarize_todos", {})
    plan = result_of(alice_client, "ai_plan_day", {"date": "2026-11-27"})
    extracted = result_of(alice_client, "ai_extract_todos", {"text": "call the bank\nbook flights", "create": True})
    assert summary["provider"] == plan["provider"] == "gemini" and "write report" in summary["text"]
    assert [c["title"] for c in extracted["created"]] == ["call the bank", "book flights"]


def test_a_spent_gemini_budget_refuses_before_the_call(alice, alice_client, fake_provider):
    from apps.quotas.models import Budget

    _store(alice_client, fake_provider)
    result_of(alice_client, "ai_complete", {"prompt": "count me"})
    Budget.objects.create(user=alice, provider="gemini", period="day", measure="tokens", amount=10, hard=True)

    refused = invoke(alice_client, "ai_complete", {"prompt": "a new question past the budget"})

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert len(fake_provider.model_calls()) == 1


def test_gemini_down_falls_back_to_the_next_provider(alice, alice_client, fake_provider):
    gemini = _store(alice_client, fake_provider)
    _store(alice_client, fake_provider, "openai", openai_key)
    alice_client.put("/api/ai/preferences", {"provider_order": ["gemini", "openai"]}, format="json")
    fake_provider.behaviour = None
    from apps.keys.models import ProviderKey

    fake_provider.behaviours[_plaintext(ProviderKey.objects.get(pk=gemini["id"]))] = fake.UNAVAILABLE

    answer = result_of(alice_client, "ai_complete", {"prompt": "anyone there"})

    assert answer["provider"] == "openai" and answer["offline"] is False


def _plaintext(key) -> str:
    from apps.keys.services import provider_key_plaintext_for_call

    return provider_key_plaintext_for_call(key=key)


def test_the_price_rows_of_every_module_are_loaded_once_with_their_dates():
    import io

    from django.core.management import call_command

    from apps.providers.registry import provider_prices
    from apps.quotas.models import ModelPrice

    out = io.StringIO()
    call_command("prices_load", stdout=out)  # after migrate's own load: nothing left to add

    assert out.getvalue().strip() == "0 price row(s) added."
    for provider, row in provider_prices():
        price = ModelPrice.objects.get(provider=provider, model=row.model, effective_from=row.effective_from)
        assert (price.input_per_million, price.output_per_million) == (row.input_per_million, row.output_per_million)
    assert ModelPrice.objects.filter(provider="gemini", model="gemini-2.5-flash").exists()
