"""Live validation against the provider failure modes the product bar names, through the official SDKs.

Each failure gives a clear result in our own words (never the provider's text, which quotes the
key in the fake), never an exception, never "valid", after exactly one request (SDK retries off).
"""

import datetime as dt
import email.utils
import logging

import pytest

from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, compatible_key, gemini_key, openai_key
from apps.providers.validation import ERROR, UNREACHABLE, VALID, key_live_validate

MAKERS = {"openai": openai_key, "anthropic": anthropic_key, "gemini": gemini_key}
PROVIDERS = ["openai", "anthropic", "gemini"]
# Gemini says when to come back in a RetryInfo detail (whole or fractional seconds), never in a
# Retry-After header, so the header's forms (HTTP dates, junk) are the other providers' tests.
RETRY_AFTER_HEADER_PROVIDERS = ["openai", "anthropic"]

# Words from the fake's bodies and pages: none may reach a result.
PROVIDER_TEXT = [
    "Rate limit reached",
    "rate_limit",
    "organization",
    "Overloaded",
    "overloaded_error",
    "Internal server error",
    "server had an error",
    "not ready yet",
    "cloudflare",
    "Bad Gateway",
    "upstream",
    "Sign in to the network",
    "<html",
    "key sk-",
    "Resource has been exhausted",
    "API key not valid",
    "key AIza",
    "is overloaded",
]

SERVER_ERRORS = [(fake.SERVER_ERROR, 500), (fake.BAD_GATEWAY, 502), (fake.UNAVAILABLE, 503), (fake.OVERLOADED, 529)]
MALFORMED_200 = [
    fake.NOT_JSON,
    fake.TRUNCATED_JSON,
    fake.WRONG_SHAPE,
    fake.WRONG_SHAPE_LIST,
    fake.WRONG_SHAPE_DATA,
    fake.EMPTY_200,
    fake.CAPTIVE_HTML,
]


def _assert_nothing_relayed(outcome, api_key: str) -> None:
    text = outcome.detail
    assert api_key not in text and api_key[-8:] not in text and api_key[12:24] not in text
    for fragment in PROVIDER_TEXT:
        assert fragment.lower() not in text.lower(), fragment


def _validate(fake_provider, provider: str, behaviour: str | None = None, *, valid: bool = True):
    """A key the fake would accept, answered with `behaviour` instead; returns (outcome, key)."""
    api_key = MAKERS[provider]()
    if valid:
        fake_provider.valid_keys.add(api_key)
    if behaviour is not None:
        fake_provider.behaviours[api_key] = behaviour
    return key_live_validate(provider=provider, api_key=api_key), api_key


# --- 429 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("behaviour", [fake.RATE_LIMITED, fake.RATE_LIMITED_TOKENS])
def test_a_rate_limited_key_is_an_error_with_the_retry_hint(fake_provider, provider, behaviour):
    outcome, api_key = _validate(fake_provider, provider, behaviour)

    assert outcome.result == ERROR and not outcome.is_valid
    assert outcome.status_code == 429 and outcome.retry_after == 17
    assert "is rate-limiting this key (HTTP 429); try again in 17 seconds." in outcome.detail
    _assert_nothing_relayed(outcome, api_key)
    assert len(fake_provider.requests) == 1, "SDK retries are off, even for a 429 with Retry-After"


@pytest.mark.parametrize("provider", RETRY_AFTER_HEADER_PROVIDERS)
def test_a_retry_after_given_as_an_http_date_becomes_seconds(fake_provider, provider):
    fake_provider.retry_after = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90), True)

    outcome, _ = _validate(fake_provider, provider, fake.RATE_LIMITED)

    assert outcome.status_code == 429 and 80 <= outcome.retry_after <= 91
    assert f"try again in {outcome.retry_after} seconds" in outcome.detail
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("provider", RETRY_AFTER_HEADER_PROVIDERS)
@pytest.mark.parametrize(
    "header", [None, "soon", "-5", "1e3", "99999999999", "Thu, 01 Jan 1970 00:00:00 GMT", "17 OR 1"]
)
def test_a_missing_or_unreadable_retry_after_gives_no_hint(fake_provider, provider, header):
    fake_provider.retry_after = header

    outcome, api_key = _validate(fake_provider, provider, fake.RATE_LIMITED)

    assert outcome.result == ERROR and outcome.status_code == 429 and outcome.retry_after is None
    assert outcome.detail.endswith("is rate-limiting this key (HTTP 429); try again later.")
    _assert_nothing_relayed(outcome, api_key)
    assert len(fake_provider.requests) == 1


# --- 5xx ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("behaviour", "status"), [*SERVER_ERRORS, (fake.PROXY_HTML, 502)])
def test_a_server_error_is_an_error_in_our_words(fake_provider, provider, behaviour, status):
    if provider == "gemini" and status == 529:
        status = 503  # Google reports an overloaded model as 503 UNAVAILABLE; 529 is Anthropic's
    outcome, api_key = _validate(fake_provider, provider, behaviour)

    assert outcome.result == ERROR and outcome.status_code == status and outcome.retry_after is None
    assert f"(HTTP {status}); the key could not be checked. Try again later." in outcome.detail
    _assert_nothing_relayed(outcome, api_key)
    assert len(fake_provider.requests) == 1


# --- malformed 200 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("behaviour", MALFORMED_200)
def test_a_200_with_a_malformed_body_is_an_error_not_a_valid_key(fake_provider, provider, behaviour):
    outcome, api_key = _validate(fake_provider, provider, behaviour)

    assert outcome.result == ERROR and not outcome.is_valid and outcome.status_code == 200
    assert "not in the format of its API" in outcome.detail and "the key could not be checked" in outcome.detail
    assert outcome.models_seen is None
    _assert_nothing_relayed(outcome, api_key)
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("behaviour", [fake.NOT_JSON, fake.WRONG_SHAPE_DATA, fake.RATE_LIMITED, fake.PROXY_HTML])
def test_an_openai_compatible_server_failing_gives_the_same_clear_results(fake_provider, behaviour):
    fake_provider.behaviour = behaviour  # per run: every key gets it

    outcome = key_live_validate(
        provider="openai_compatible", api_key=compatible_key(), base_url=fake_provider.openai_base_url
    )

    assert outcome.result == ERROR and outcome.status_code in (200, 429, 502)
    assert "could not be checked" in outcome.detail or "try again" in outcome.detail
    assert len(fake_provider.requests) == 1


# --- timeouts and broken connections ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_that_never_arrives_is_a_timeout(fake_provider, provider):
    outcome, _ = _validate(fake_provider, provider, fake.STALL_BODY)

    assert outcome.result == UNREACHABLE and "did not answer within 2 s" in outcome.detail
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_connection_dropped_mid_answer_is_unreachable(fake_provider, provider):
    outcome, _ = _validate(fake_provider, provider, fake.CONNECTION_DROPPED)

    assert outcome.result == UNREACHABLE and outcome.status_code is None
    assert len(fake_provider.requests) == 1


# --- the fake itself --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_wide_behaviour_applies_to_every_key_and_a_per_key_one_wins(fake_provider, provider):
    fake_provider.behaviour = fake.UNAVAILABLE
    healthy = MAKERS[provider]()
    fake_provider.valid_keys.add(healthy)
    fake_provider.behaviours[healthy] = None  # this key is answered normally

    assert _validate(fake_provider, provider)[0].status_code == 503
    assert key_live_validate(provider=provider, api_key=healthy).result == VALID


def test_failing_checks_log_nothing_of_the_key_or_the_bodies(fake_provider, caplog):
    caplog.set_level(logging.DEBUG)
    keys = []
    for provider in PROVIDERS:
        for behaviour in [fake.RATE_LIMITED, fake.SERVER_ERROR, fake.PROXY_HTML, *MALFORMED_200]:
            keys.append(_validate(fake_provider, provider, behaviour)[1])

    assert caplog.records, "the SDKs' debug logging was captured"
    logged = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    for api_key in keys:
        assert api_key[12:24] not in logged and api_key[-12:] not in logged
    # httpx logs the status line, whose standard reason phrase ("Bad Gateway") is not body text.
    for fragment in [text for text in PROVIDER_TEXT if text != "Bad Gateway"]:
        assert fragment not in logged, fragment


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_exception_nobody_foresaw_inside_the_sdk_is_an_error_result_logged_by_type_only(
    fake_provider, provider, monkeypatch, caplog
):
    # Stands in for a future SDK whose response parsing fails in a new way, with the body in its message.
    import anthropic.resources.models
    import google.genai.models
    import openai.resources.models

    sdk = {
        "openai": openai.resources.models.Models,
        "anthropic": anthropic.resources.models.Models,
        "gemini": google.genai.models.Models,
    }[provider]
    api_key = MAKERS[provider]()

    def broken_list(self, *args, **kwargs):
        raise RuntimeError(f"could not parse the answer for key {api_key}")

    monkeypatch.setattr(sdk, "list", broken_list)
    caplog.set_level(logging.DEBUG)

    outcome = key_live_validate(provider=provider, api_key=api_key)

    assert outcome.result == ERROR and "failed unexpectedly; the key could not be checked" in outcome.detail
    _assert_nothing_relayed(outcome, api_key)
    assert "failed unexpectedly: RuntimeError" in caplog.text
    assert api_key[12:24] not in caplog.text


# --- Gemini's own forms ---------------------------------------------------------------------------------


def test_gemini_answers_an_unknown_key_with_400_and_that_is_a_rejected_key(fake_provider):
    # Google answers 400 INVALID_ARGUMENT (reason API_KEY_INVALID in an ErrorInfo detail), not 401.
    outcome, api_key = _validate(fake_provider, "gemini", valid=False)

    assert outcome.result == "invalid" and outcome.status_code == 400
    assert outcome.detail == "Google Gemini rejected this key (HTTP 400)."
    _assert_nothing_relayed(outcome, api_key)


def test_gemini_retry_info_gives_the_retry_hint(fake_provider):
    fake_provider.retry_after = "42"

    outcome, api_key = _validate(fake_provider, "gemini", fake.RATE_LIMITED)

    assert outcome.status_code == 429 and outcome.retry_after == 42
    _assert_nothing_relayed(outcome, api_key)
    assert fake_provider.requests[-1]["path"].startswith("/v1beta/models")
