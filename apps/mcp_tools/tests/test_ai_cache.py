"""The answer cache behind the AI tools: L1 and L2 hits, TTL and sliding expiry, invalidation, isolation."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis import get_redis_connection

from apps.keys.services import provider_key_create
from apps.mcp_tools.tests.pipeline_helpers import result_of
from apps.providers.answer_cache import ANSWER_PREFIX, answer_cache_stats, answer_l1_clear
from apps.providers.tests.keys import openai_key
from apps.providers.tests.second_process import in_second_process
from apps.todos.services import todo_create

DEADLINE_SECONDS = 10


@pytest.fixture(autouse=True)
def fresh_l1():
    answer_l1_clear()
    yield
    answer_l1_clear()


def _key(fake_server, user) -> str:
    api_key = openai_key()
    fake_server.valid_keys.add(api_key)
    provider_key_create(actor=user, owner=user, provider="openai", api_key=api_key)
    return api_key


def _answer_keys() -> list[str]:
    """The answers in L2, whichever it is (Redis, or the embedded default's local memory)."""
    store = caches["default"]
    if isinstance(store, LocMemCache):
        return [key for key in store._cache if f"{ANSWER_PREFIX}:" in key]
    return [key.decode() for key in get_redis_connection("default").scan_iter(match=f"*{ANSWER_PREFIX}:*")]


@pytest.mark.django_db
def test_a_repeat_is_served_from_l1_then_from_l2(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    before = answer_cache_stats()
    first = result_of(alice_client, "ai_complete", {"prompt": "what is 2+2"})
    second = result_of(alice_client, "ai_complete", {"prompt": "what is 2+2"})
    answer_l1_clear()  # as another process would: only L2 has it
    third = result_of(alice_client, "ai_complete", {"prompt": "what is 2+2"})
    assert (first["cached"], second["cached"], third["cached"]) == (False, True, True)
    assert first["text"] == second["text"] == third["text"]
    assert len(fake_provider.model_calls()) == 1
    after = answer_cache_stats()
    assert after["l1_hit"] - before.get("l1_hit", 0) == 1
    assert after["l2_hit"] - before.get("l2_hit", 0) == 1
    assert after["miss"] - before.get("miss", 0) == 1


@pytest.mark.django_db
def test_a_different_request_or_model_is_not_a_hit(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "a"})
    assert result_of(alice_client, "ai_complete", {"prompt": "b"})["cached"] is False
    assert result_of(alice_client, "ai_complete", {"prompt": "a", "model": "gpt-4.1"})["cached"] is False
    assert result_of(alice_client, "ai_complete", {"prompt": "a", "max_tokens": 5})["cached"] is False
    assert len(fake_provider.model_calls()) == 4


@pytest.mark.django_db
def test_a_near_repeat_differing_only_in_whitespace_is_a_hit(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "plan  my\nweek"})
    assert result_of(alice_client, "ai_complete", {"prompt": " plan my week "})["cached"] is True
    assert len(fake_provider.model_calls()) == 1


@pytest.mark.django_db
def test_two_users_never_share_an_answer(fake_provider, alice, bob, alice_client, bob_client):
    _key(fake_provider, alice)
    bobs_key = _key(fake_provider, bob)
    result_of(alice_client, "ai_complete", {"prompt": "same words"})
    answer = result_of(bob_client, "ai_complete", {"prompt": "same words"})
    assert answer["cached"] is False
    assert len(fake_provider.model_calls(key=bobs_key)) == 1


@pytest.mark.redis  # Redis's own expiry of the entry
@pytest.mark.django_db
def test_l2_entries_expire_and_a_hit_slides_their_expiry(fake_provider, alice, alice_client, settings):
    settings.AI_CACHE_L1_SIZE = 0  # L2 alone
    settings.AI_CACHE_TTL_SECONDS = 600
    _key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "slide"})
    (key,) = _answer_keys()
    redis = get_redis_connection("default")
    assert 0 < redis.pttl(key) <= 600_000
    redis.pexpire(key, 5_000)  # as if most of its life had passed
    assert result_of(alice_client, "ai_complete", {"prompt": "slide"})["cached"] is True
    assert redis.pttl(key) > 5_000  # the hit gave it a full TTL again
    redis.pexpire(key, 1)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert result_of(alice_client, "ai_complete", {"prompt": "slide"})["cached"] is False
    assert len(fake_provider.model_calls()) == 2


@pytest.mark.django_db
def test_a_hot_entry_still_ends_at_its_maximum_age(fake_provider, alice, alice_client, settings):
    _key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "old"})
    assert result_of(alice_client, "ai_complete", {"prompt": "old"})["cached"] is True
    settings.AI_CACHE_MAX_AGE_SECONDS = 1
    with time_machine.travel(time.time() + 1.1, tick=False):
        assert result_of(alice_client, "ai_complete", {"prompt": "old"})["cached"] is False
    assert len(fake_provider.model_calls()) == 2


@pytest.mark.django_db
def test_an_answer_about_todos_goes_stale_when_the_todos_change(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    todo_create(owner=alice, title="first thing")
    assert result_of(alice_client, "ai_summarize_todos", {})["cached"] is False
    assert result_of(alice_client, "ai_summarize_todos", {})["cached"] is True
    todo_create(owner=alice, title="second thing")
    fresh = result_of(alice_client, "ai_summarize_todos", {})
    assert fresh["cached"] is False and "second thing" in fresh["text"]
    # A prompt that reads no todos keeps its answer through todo changes.
    result_of(alice_client, "ai_complete", {"prompt": "unrelated"})
    todo_create(owner=alice, title="third thing")
    assert result_of(alice_client, "ai_complete", {"prompt": "unrelated"})["cached"] is True


@pytest.mark.django_db
def test_changing_keys_or_preferences_drops_cached_answers(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    result_of(alice_client, "ai_complete", {"prompt": "p"})
    _key(fake_provider, alice)  # a new key: answers are not carried across key changes
    assert result_of(alice_client, "ai_complete", {"prompt": "p"})["cached"] is False
    alice_client.put("/api/ai/preferences", {"provider_order": ["anthropic", "openai"]}, format="json")
    assert result_of(alice_client, "ai_complete", {"prompt": "p"})["cached"] is False


@pytest.mark.django_db(transaction=True)
def test_a_todo_change_in_another_process_makes_l1_entries_stale(fake_provider, alice, alice_client):
    _key(fake_provider, alice)
    todo_create(owner=alice, title="before")
    result_of(alice_client, "ai_summarize_todos", {})
    assert result_of(alice_client, "ai_summarize_todos", {})["cached"] is True  # from this process's L1
    in_second_process(
        "from apps.accounts.models import User; from apps.todos.services import todo_create; "
        f"todo_create(owner=User.objects.get(pk={alice.pk}), title='added elsewhere')"
    )
    fresh = result_of(alice_client, "ai_summarize_todos", {})
    assert fresh["cached"] is False and "added elsewhere" in fresh["text"]


@pytest.mark.django_db
def test_errors_are_never_cached(fake_provider, alice, alice_client):
    from apps.providers.tests import fake_provider as fake

    _key(fake_provider, alice)
    fake_provider.behaviour = fake.UNAVAILABLE
    assert result_of(alice_client, "ai_complete", {"prompt": "e"})["offline"] is True
    assert _answer_keys() == []
    fake_provider.behaviour = None
    assert result_of(alice_client, "ai_complete", {"prompt": "e"})["cached"] is False
