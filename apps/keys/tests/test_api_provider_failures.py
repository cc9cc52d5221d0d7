"""The key endpoints when the provider fails: a clear answer in our words, never a 500, never
the provider's text, the key never recorded as valid, and exactly one request to the provider."""

import pytest

from apps.audit.models import AuditEvent
from apps.keys.models import ProviderKey
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, openai_key

URL = "/api/api-keys"
MAKERS = {"openai": openai_key, "anthropic": anthropic_key}
PROVIDERS = ["openai", "anthropic"]

# (behaviour, recorded result, provider status in the validation payload)
FAILURES = [
    (fake.RATE_LIMITED, "error", 429),
    (fake.RATE_LIMITED_TOKENS, "error", 429),
    (fake.SERVER_ERROR, "error", 500),
    (fake.BAD_GATEWAY, "error", 502),
    (fake.UNAVAILABLE, "error", 503),
    (fake.OVERLOADED, "error", 529),
    (fake.PROXY_HTML, "error", 502),
    (fake.NOT_JSON, "error", 200),
    (fake.TRUNCATED_JSON, "error", 200),
    (fake.WRONG_SHAPE, "error", 200),
    (fake.WRONG_SHAPE_LIST, "error", 200),
    (fake.WRONG_SHAPE_DATA, "error", 200),
    (fake.EMPTY_200, "error", 200),
    (fake.CAPTIVE_HTML, "error", 200),
    (fake.STALL_BODY, "unreachable", None),
    (fake.CONNECTION_DROPPED, "unreachable", None),
    ("stall", "unreachable", None),
]
PROVIDER_TEXT = ["Rate limit reached", "rate_limit", "Overloaded", "cloudflare", "Bad Gateway", "upstream", "<html"]


def _fail(fake_provider, api_key: str, behaviour: str, settings=None) -> None:
    fake_provider.valid_keys.add(api_key)  # it would be accepted, were the provider well
    if settings is not None and behaviour in ("stall", fake.STALL_BODY):
        # Nothing arrives either way, so a short timeout proves the same as the suite's 2 s (which
        # only has to outlast a loaded machine's answers).
        settings.PROVIDER_VALIDATION_TIMEOUT_SECONDS = 0.3
    if behaviour == "stall":
        fake_provider.stall_keys.add(api_key)
    else:
        fake_provider.behaviours[api_key] = behaviour


def _assert_clean(response, api_key: str) -> None:
    text = response.content.decode() + str(response.headers)
    assert api_key[12:24] not in text and api_key[-12:] not in text
    for fragment in PROVIDER_TEXT:
        assert fragment.lower() not in text.lower(), fragment


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("behaviour", "result", "status"), FAILURES)
def test_validating_against_a_failing_provider_is_503_and_recorded_as_not_valid(
    alice_client, keyring, fake_provider, provider, behaviour, result, status, settings
):
    api_key = MAKERS[provider]()
    key_id = alice_client.post(URL, {"provider": provider, "api_key": api_key}, format="json").json()["key"]["id"]
    _fail(fake_provider, api_key, behaviour, settings)

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 503, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "provider_unreachable"
    validation = error["details"]["validation"]
    assert validation["result"] == result and validation["status_code"] == status
    assert error["message"] == validation["detail"]
    _assert_clean(response, api_key)
    row = ProviderKey.objects.get(pk=key_id)
    assert row.last_validation_result == result and row.last_validation_detail == validation["detail"]
    event = AuditEvent.objects.get(action="provider_key.validated")
    assert event.outcome == "failure" and event.data["result"] == result
    assert len(fake_provider.requests) == 1, "the SDK made exactly one request"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_rate_limited_validation_carries_the_retry_hint(alice_client, keyring, fake_provider, provider):
    api_key = MAKERS[provider]()
    key_id = alice_client.post(URL, {"provider": provider, "api_key": api_key}, format="json").json()["key"]["id"]
    _fail(fake_provider, api_key, fake.RATE_LIMITED)

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 503 and response.headers["Retry-After"] == "17"
    error = response.json()["error"]
    assert "is rate-limiting this key (HTTP 429); try again in 17 seconds." in error["message"]
    assert error["details"]["validation"]["retry_after"] == 17
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_rate_limit_without_a_readable_hint_says_later(alice_client, keyring, fake_provider, provider):
    fake_provider.retry_after = "whenever"
    api_key = MAKERS[provider]()
    key_id = alice_client.post(URL, {"provider": provider, "api_key": api_key}, format="json").json()["key"]["id"]
    _fail(fake_provider, api_key, fake.RATE_LIMITED)

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 503 and "Retry-After" not in response.headers
    assert response.json()["error"]["message"].endswith("try again later.")
    assert response.json()["error"]["details"]["validation"]["retry_after"] is None


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("behaviour", "result", "status"), FAILURES)
def test_storing_with_validation_against_a_failing_provider_keeps_the_key_but_not_as_valid(
    alice_client, keyring, fake_provider, provider, behaviour, result, status, settings
):
    api_key = MAKERS[provider]()
    _fail(fake_provider, api_key, behaviour, settings)

    response = alice_client.post(URL, {"provider": provider, "api_key": api_key, "validate": True}, format="json")

    # As documented: an unreachable or failing provider does not block storing; the outcome is recorded.
    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert body["validation"]["result"] == result and body["validation"]["status_code"] == status
    assert body["key"]["last_validation_result"] == result
    _assert_clean(response, api_key)
    assert ProviderKey.objects.get(pk=body["key"]["id"]).last_validation_result == result
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("behaviour", [fake.RATE_LIMITED, fake.OVERLOADED, fake.NOT_JSON, fake.CAPTIVE_HTML])
def test_rotating_with_validation_against_a_failing_provider_records_the_failure(
    alice_client, keyring, fake_provider, provider, behaviour
):
    key_id = alice_client.post(URL, {"provider": provider, "api_key": MAKERS[provider]()}, format="json").json()["key"][
        "id"
    ]
    replacement = MAKERS[provider]()
    _fail(fake_provider, replacement, behaviour)

    response = alice_client.post(f"{URL}/{key_id}/rotate", {"api_key": replacement, "validate": True}, format="json")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["validation"]["result"] == "error"
    assert response.json()["key"]["last_validation_result"] == "error"
    _assert_clean(response, replacement)
    assert len(fake_provider.requests) == 1
