"""Calling providers: the provider modules over their SDKs, retries, the shared breaker and the fallback chain.

Candidates are built here by hand (the vault builds them in production, see apps/keys), and every
call goes to the loopback fake speaking the real wire formats.
"""

from __future__ import annotations

import datetime as dt

import pybreaker
import pytest

from apps.audit.models import AuditEvent
from apps.providers import calls
from apps.providers.adapters import completion_call
from apps.providers.breaker import breaker_for, circuit_reset, circuit_snapshot
from apps.providers.calls import Candidate, CompletionRequest, Message, Route, ToolDefinition
from apps.providers.fallback import completion_with_fallback
from apps.providers.models import ProviderCircuit
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, gemini_key, openai_key

pytestmark = pytest.mark.django_db

MAKERS = {"openai": openai_key, "anthropic": anthropic_key, "gemini": gemini_key}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
PROVIDERS = list(MAKERS)
HELLO = CompletionRequest(messages=(Message("system", "Be brief."), Message("user", "hello there")))
CREATE_TOOL = ToolDefinition(
    name="create_todos",
    description="Create todos.",
    input_schema={"type": "object", "properties": {"items": {"type": "array"}}, "required": ["items"]},
)


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_MAX_WAIT_SECONDS = 0.05
    settings.PROVIDER_RETRY_ATTEMPTS = 3
    settings.PROVIDER_RETRY_TOTAL_SECONDS = 5
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 1
    settings.PROVIDER_BREAKER_FAILURES = 3
    settings.PROVIDER_BREAKER_RESET_SECONDS = 1


def candidate(fake_provider, provider: str = "openai", *, valid: bool = True, label: str = "main") -> Candidate:
    api_key = MAKERS[provider]()
    if valid:
        fake_provider.valid_keys.add(api_key)
    base_url = getattr(fake_provider, f"{provider}_base_url")
    return Candidate(route=Route(provider, base_url, MODELS[provider]), key_id=0, key_label=label, api_key=api_key)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_in_one_shape_whichever_provider(fake_provider, provider):
    response = completion_call(candidate(fake_provider, provider), HELLO)
    assert response.provider == provider
    assert response.text == "echo: hello there"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.finish_reason in ("stop", "end_turn")
    assert response.model == MODELS[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_call_comes_back_in_one_shape(fake_provider, provider):
    request = CompletionRequest(messages=(Message("user", "create todo: buy milk"),), tools=(CREATE_TOOL,))
    response = completion_call(candidate(fake_provider, provider), request)
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("create_todos", {"items": [{"title": "buy milk"}]})
    ]
    sent = fake_provider.model_calls()[-1]["body"]
    if provider == "openai":
        assert sent["tools"][0]["type"] == "function" and sent["tools"][0]["function"]["name"] == "create_todos"
    elif provider == "anthropic":
        assert sent["tools"][0]["input_schema"]["required"] == ["items"]
    else:  # generateContent: function declarations, the system prompt apart, no automatic calling
        declaration = sent["tools"][0]["functionDeclarations"][0]
        assert declaration["name"] == "create_todos"
        schema = declaration.get("parametersJsonSchema") or declaration["parameters_json_schema"]
        assert schema["required"] == ["items"]


def test_it_retries_a_server_error_then_succeeds(fake_provider):
    fake_provider.queue = [fake.UNAVAILABLE, fake.SERVER_ERROR]
    result = completion_with_fallback(request=HELLO, candidates=[candidate(fake_provider)])
    assert result.response is not None and result.response.text == "echo: hello there"
    assert len(fake_provider.model_calls()) == 3


def test_it_retries_a_rate_limit_after_retry_after(fake_provider, settings):
    fake_provider.retry_after = "1"
    fake_provider.queue = [fake.RATE_LIMITED]
    slept: list[float] = []
    from apps.providers import backoff

    response = backoff.with_retries(lambda: completion_call(candidate(fake_provider), HELLO), sleep=slept.append)
    assert response.text == "echo: hello there"
    assert slept and slept[0] >= 1.0


def test_a_retry_after_past_the_time_budget_moves_on_without_waiting(fake_provider, settings):
    settings.PROVIDER_RETRY_TOTAL_SECONDS = 2
    fake_provider.retry_after = "30"
    first, second = candidate(fake_provider, label="first"), candidate(fake_provider, "anthropic", label="second")
    fake_provider.behaviours[first.api_key] = fake.RATE_LIMITED
    result = completion_with_fallback(request=HELLO, candidates=[first, second])
    assert result.response.provider == "anthropic"
    assert len(fake_provider.model_calls(key=first.api_key)) == 1


@pytest.mark.parametrize("behaviour", [fake.BAD_REQUEST, fake.UNAUTHORIZED])
def test_it_never_retries_a_bad_request_or_a_refused_key(fake_provider, behaviour):
    one = candidate(fake_provider)
    fake_provider.behaviours[one.api_key] = behaviour
    with pytest.raises(calls.ProviderFailure) as failure:
        completion_call(one, HELLO)
    if behaviour == fake.BAD_REQUEST:
        with pytest.raises(calls.ProviderFailure):
            completion_with_fallback(request=HELLO, candidates=[one])
    else:
        assert completion_with_fallback(request=HELLO, candidates=[one]).offline
    assert len(fake_provider.model_calls()) == 2
    assert failure.value.kind == (calls.BAD_REQUEST if behaviour == fake.BAD_REQUEST else calls.KEY_REFUSED)


@pytest.mark.parametrize(
    "behaviour",
    [fake.NOT_JSON, fake.TRUNCATED_JSON, fake.WRONG_SHAPE, fake.EMPTY_200, fake.CAPTIVE_HTML, fake.PROXY_HTML],
)
def test_a_malformed_answer_is_a_failure_in_our_own_words(fake_provider, behaviour, caplog):
    one = candidate(fake_provider)
    fake_provider.behaviour = behaviour
    result = completion_with_fallback(request=HELLO, candidates=[one])
    assert result.offline
    assert len(fake_provider.model_calls()) == 3  # retried: a proxy hiccup may pass
    text = result.offline_reason() + caplog.text
    assert one.api_key not in text and "cloudflare" not in text and "upstream" not in text


def test_a_slow_provider_times_out_and_the_next_one_answers(fake_provider, settings):
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 0.3
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    slow, other = candidate(fake_provider), candidate(fake_provider, "anthropic")
    fake_provider.behaviours[slow.api_key] = fake.SLOW
    result = completion_with_fallback(request=HELLO, candidates=[slow, other])
    assert result.response.provider == "anthropic"
    assert result.attempts[0].outcome == calls.RETRYABLE and "in time" in result.attempts[0].message


def test_insufficient_quota_moves_to_the_next_key_without_retrying(fake_provider):
    spent, spare = candidate(fake_provider, label="spent"), candidate(fake_provider, label="spare")
    fake_provider.behaviours[spent.api_key] = fake.INSUFFICIENT_QUOTA
    result = completion_with_fallback(request=HELLO, candidates=[spent, spare])
    assert result.response is not None
    assert [(a.key_label, a.outcome) for a in result.attempts] == [("spent", calls.QUOTA), ("spare", "ok")]
    assert len(fake_provider.model_calls(key=spent.api_key)) == 1
    assert AuditEvent.objects.filter(action="provider.fallback", outcome="success").count() == 1


def test_the_breaker_opens_half_opens_and_closes(fake_provider, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    one = candidate(fake_provider)
    fake_provider.behaviour = fake.UNAVAILABLE
    for _ in range(3):
        assert completion_with_fallback(request=HELLO, candidates=[one]).offline
    assert len(fake_provider.model_calls()) == 3
    circuit = ProviderCircuit.objects.get(provider="openai")
    assert circuit_snapshot(circuit).state == "open"
    # Open: the provider is not called at all, and the answer says when to come back.
    result = completion_with_fallback(request=HELLO, candidates=[one])
    assert result.attempts[0].outcome == calls.BREAKER_OPEN and result.retry_after >= 1
    assert len(fake_provider.model_calls()) == 3
    fake_provider.behaviour = None
    # After the reset timeout one trial call goes through (half-open); its success closes the breaker.
    _open_long_ago(one)
    assert completion_with_fallback(request=HELLO, candidates=[one]).response is not None
    assert circuit_snapshot(circuit).state == "closed"
    changes = list(
        AuditEvent.objects.filter(action="provider.breaker_changed").order_by("id").values_list("data", flat=True)
    )
    assert [(c["from"], c["to"]) for c in changes] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


def _open_long_ago(one: Candidate) -> None:
    """Move the breaker's opening time back past its reset timeout (as if the timeout had passed)."""
    storage = breaker_for(one.route)._state_storage
    if isinstance(storage, pybreaker.CircuitRedisStorage):
        # Its setter only ever moves the time forward; written as the key's holder would see it.
        storage._redis.set(storage._namespace("opened_at"), 1)
    else:  # the embedded default: this process's own breaker
        storage.opened_at = dt.datetime.fromtimestamp(1, tz=dt.UTC)


def test_a_refused_key_or_a_spent_quota_does_not_open_the_breaker(fake_provider, settings):
    settings.PROVIDER_BREAKER_FAILURES = 2
    refused, spent = candidate(fake_provider, valid=False), candidate(fake_provider)
    fake_provider.behaviours[spent.api_key] = fake.INSUFFICIENT_QUOTA
    for _ in range(3):
        completion_with_fallback(request=HELLO, candidates=[refused, spent])
    assert len(fake_provider.model_calls()) == 6
    assert not ProviderCircuit.objects.exists()  # never changed state


def test_an_operator_resets_an_open_breaker(fake_provider, settings, olivia):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    one = candidate(fake_provider)
    fake_provider.behaviour = fake.UNAVAILABLE
    for _ in range(3):
        completion_with_fallback(request=HELLO, candidates=[one])
    circuit = ProviderCircuit.objects.get(provider="openai")
    assert circuit_snapshot(circuit).state == "open"
    circuit_reset(circuit=circuit, actor=olivia)
    fake_provider.behaviour = None
    assert completion_with_fallback(request=HELLO, candidates=[one]).response is not None
    assert AuditEvent.objects.filter(action="provider.breaker_reset", actor_id=olivia.pk).exists()


def test_it_falls_back_to_the_next_provider_and_back(fake_provider, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    first, second = candidate(fake_provider), candidate(fake_provider, "anthropic")
    fake_provider.behaviours[first.api_key] = fake.OVERLOADED
    assert completion_with_fallback(request=HELLO, candidates=[first, second]).response.provider == "anthropic"
    del fake_provider.behaviours[first.api_key]
    assert completion_with_fallback(request=HELLO, candidates=[first, second]).response.provider == "openai"


def test_a_candidate_never_shows_or_serialises_its_key(fake_provider):
    import pickle

    one = candidate(fake_provider)
    assert one.api_key not in repr(one)
    with pytest.raises(TypeError):
        pickle.dumps(one)
