"""The breaker's state is shared: what one process trips, another sees, and recovery travels back."""

from __future__ import annotations

import pytest

from apps.providers.breaker import breaker_for
from apps.providers.calls import CompletionRequest, Message
from apps.providers.fallback import completion_with_fallback
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.second_process import in_second_process
from apps.providers.tests.test_calls import candidate

HELLO = CompletionRequest(messages=(Message("user", "hello"),))

# Shared through Redis; on the embedded default each process has a breaker of its own, by design.
pytestmark = pytest.mark.redis

SECOND = """
from apps.providers.calls import Candidate, CompletionRequest, Message, Route
from apps.providers.fallback import completion_with_fallback
one = Candidate(route=Route("openai", {base_url!r}, "gpt-4o-mini"), key_id=0, key_label="main", api_key={api_key!r})
result = completion_with_fallback(request=CompletionRequest(messages=(Message("user", "hello"),)), candidates=[one])
print(result.attempts[0].outcome)
"""


@pytest.mark.django_db(transaction=True)
def test_a_breaker_tripped_here_is_open_in_another_process_and_closes_for_both(fake_provider, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    settings.PROVIDER_BREAKER_FAILURES = 3
    one = candidate(fake_provider)
    second = SECOND.format(base_url=one.route.base_url, api_key=one.api_key)
    fake_provider.behaviour = fake.UNAVAILABLE
    for _ in range(3):
        completion_with_fallback(request=HELLO, candidates=[one])
    calls_so_far = len(fake_provider.model_calls())
    # The other process does not call the provider at all: the breaker it reads from Redis is open.
    assert in_second_process(second, PROVIDER_RETRY_ATTEMPTS="1") == "breaker_open"
    assert len(fake_provider.model_calls()) == calls_so_far
    # After the reset timeout the other process makes the trial call; its success closes the breaker here too.
    fake_provider.behaviour = None
    storage = breaker_for(one.route)._state_storage
    storage._redis.set(storage._namespace("opened_at"), 1)
    assert in_second_process(second, PROVIDER_RETRY_ATTEMPTS="1") == "ok"
    assert storage.state == "closed"
    assert completion_with_fallback(request=HELLO, candidates=[one]).response is not None
