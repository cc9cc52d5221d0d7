"""One meaning of `cached` in the invocation envelope, whichever cache served the answer: the
pipeline's result cache (a read tool) or the AI answer cache (an AI tool's `result.cached`)."""

from __future__ import annotations

import pytest

from apps.keys.services import provider_key_create
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.tests.pipeline_helpers import invoke
from apps.providers.answer_cache import answer_l1_clear
from apps.providers.tests.keys import openai_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_l1():
    answer_l1_clear()
    yield
    answer_l1_clear()


def test_an_answer_from_the_ai_answer_cache_is_cached_in_the_envelope(fake_provider, alice, alice_client):
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)
    provider_key_create(actor=alice, owner=alice, provider="openai", api_key=api_key)

    first = invoke(alice_client, "ai_complete", {"prompt": "what is 2+2"}).json()
    second = invoke(alice_client, "ai_complete", {"prompt": "what is 2+2"}).json()

    assert (first["cached"], first["result"]["cached"]) == (False, False)
    assert (second["cached"], second["result"]["cached"]) == (True, True)
    assert list(ToolCall.objects.order_by("id").values_list("cached", flat=True)) == [False, True]
