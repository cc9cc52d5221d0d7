"""Google Gemini through the official google-genai SDK against the loopback fake's generateContent.

The same retries, breaker, fallback and failure words as the other providers (test_calls.py runs
its one-shape tests for Gemini too); here what is Gemini's own: function calls and their results
in its format, 429 with RetryInfo, 5xx, malformed bodies, and 400 API_KEY_INVALID as a refused key.
"""

from __future__ import annotations

import pytest

from apps.providers import backoff, calls
from apps.providers.adapters import completion_call
from apps.providers.calls import CompletionRequest, Message, ToolCallRequest
from apps.providers.fallback import completion_with_fallback
from apps.providers.models import ProviderCircuit
from apps.providers.tests import fake_provider as fake

# fast_retries: the same short retries and timeouts as the other providers' call tests (autouse).
from apps.providers.tests.test_calls import CREATE_TOOL, HELLO, candidate, fast_retries  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_function_call_and_its_result_go_round_in_gemini_s_format(fake_provider):
    one = candidate(fake_provider, "gemini")
    asked = CompletionRequest(
        messages=(Message("system", "Be brief."), Message("user", "create todo: buy milk")), tools=(CREATE_TOOL,)
    )

    response = completion_call(one, asked)

    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("create_todos", {"items": [{"title": "buy milk"}]})
    sent = fake_provider.model_calls()[-1]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["body"]["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "create todo: buy milk"}]}]
    assert sent["body"]["generationConfig"]["maxOutputTokens"] == 1024

    follow_up = CompletionRequest(
        messages=(
            *asked.messages,
            Message("assistant", "", tool_calls=(ToolCallRequest(call.id, call.name, call.arguments),)),
            Message("tool", '{"created": 1}', tool_call_id=call.id),
        ),
        tools=(CREATE_TOOL,),
    )
    answer = completion_call(one, follow_up)

    assert answer.text == 'Done: {"created": 1}' and not answer.tool_calls
    contents = fake_provider.model_calls()[-1]["body"]["contents"]
    assert contents[1]["role"] == "model" and contents[1]["parts"][0]["functionCall"]["name"] == "create_todos"
    # A functionResponse names its function: the name comes from the call the result answers.
    assert contents[2]["parts"] == [
        {"functionResponse": {"id": call.id, "name": "create_todos", "response": {"result": '{"created": 1}'}}}
    ]


def test_a_429_with_retry_info_is_retried_after_the_delay_it_names(fake_provider):
    fake_provider.retry_after = "2"
    fake_provider.queue = [fake.RATE_LIMITED]
    slept: list[float] = []

    response = backoff.with_retries(
        lambda: completion_call(candidate(fake_provider, "gemini"), HELLO), sleep=slept.append
    )

    assert response.text == "echo: hello there"
    assert slept and slept[0] >= 2.0


def test_a_server_error_is_retried_then_answered(fake_provider):
    fake_provider.queue = [fake.UNAVAILABLE, fake.SERVER_ERROR]

    result = completion_with_fallback(request=HELLO, candidates=[candidate(fake_provider, "gemini")])

    assert result.response is not None and result.response.provider == "gemini"
    assert len(fake_provider.model_calls()) == 3


@pytest.mark.parametrize(
    "behaviour",
    [fake.NOT_JSON, fake.TRUNCATED_JSON, fake.WRONG_SHAPE, fake.EMPTY_200, fake.CAPTIVE_HTML, fake.PROXY_HTML],
)
def test_a_malformed_body_is_a_failure_in_our_own_words(fake_provider, behaviour, caplog):
    one = candidate(fake_provider, "gemini")
    fake_provider.behaviour = behaviour

    result = completion_with_fallback(request=HELLO, candidates=[one])

    assert result.offline and result.attempts[0].outcome == calls.RETRYABLE
    assert len(fake_provider.model_calls()) == 3
    text = result.offline_reason() + caplog.text
    assert one.api_key not in text and "cloudflare" not in text and "exhausted" not in text


def test_an_unknown_key_is_refused_without_retrying_and_moves_to_the_next_provider(fake_provider):
    refused, other = candidate(fake_provider, "gemini", valid=False), candidate(fake_provider, "openai")

    result = completion_with_fallback(request=HELLO, candidates=[refused, other])

    assert result.response.provider == "openai"
    assert result.attempts[0].outcome == calls.KEY_REFUSED and result.attempts[0].status_code == 400
    assert len(fake_provider.model_calls(key=refused.api_key)) == 1
    assert not ProviderCircuit.objects.filter(provider="gemini").exists()


def test_a_bad_request_stops_the_chain(fake_provider):
    one = candidate(fake_provider, "gemini")
    fake_provider.behaviours[one.api_key] = fake.BAD_REQUEST

    with pytest.raises(calls.ProviderFailure) as failure:
        completion_with_fallback(request=HELLO, candidates=[one, candidate(fake_provider, "openai")])

    assert failure.value.kind == calls.BAD_REQUEST and failure.value.message == (
        "Google Gemini refused the request (HTTP 400)."
    )


def test_an_overloaded_gemini_falls_back_and_the_timeout_is_ours(fake_provider, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 1
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 0.3
    down, slow, other = (
        candidate(fake_provider, "gemini"),
        candidate(fake_provider, "gemini"),
        candidate(fake_provider, "anthropic"),
    )
    fake_provider.behaviours[down.api_key] = fake.OVERLOADED
    fake_provider.behaviours[slow.api_key] = fake.SLOW

    result = completion_with_fallback(request=HELLO, candidates=[down, slow, other])

    assert result.response.provider == "anthropic"
    assert [a.message for a in result.attempts[:2]] == [
        "Google Gemini had a server-side problem (HTTP 503).",
        "Google Gemini did not answer in time.",
    ]
