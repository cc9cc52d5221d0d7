"""The account throttles (sign-up, failed bearer tokens, password checks) run on the one rate-limit
engine: its buckets, its Redis-down policy, its refusal and its headers (issue 23 item 4)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from apps.core.errors import ServiceUnavailable
from apps.core.limit_reports import RateLimitExceeded
from apps.core.throttle import throttle_first_in_window, throttle_hit, throttle_retry_after

UNREACHABLE = "redis://127.0.0.1:1/0"


def _hit(rate: str = "2/hour", key: tuple[str, ...] = ("register", "192.0.2.7")) -> None:
    throttle_hit(rate=rate, key=key, message="Too many sign-ups from this address; try again later.")


def test_a_throttle_refuses_past_its_rate_with_the_engines_refusal(db):
    _hit()
    _hit()
    with pytest.raises(RateLimitExceeded) as refused:
        _hit()
    error = refused.value
    assert error.code == "rate_limited" and error.message.startswith("Too many sign-ups")
    assert error.retry_after > 0
    assert error.details["limit"] == "register" and error.details["retry_after"] == error.retry_after
    assert error.decision.binding.limit.family == "account"


def test_asking_how_long_to_wait_counts_nothing(db):
    for _ in range(5):
        assert throttle_retry_after(rate="2/hour", key=("password-change-failed", "7")) is None
    _hit(key=("password-change-failed", "7"))
    _hit(key=("password-change-failed", "7"))
    assert throttle_retry_after(rate="2/hour", key=("password-change-failed", "7")) > 0


def test_once_per_window_is_true_once(db):
    assert throttle_first_in_window(window_seconds=300, key=("bearer-failed-audit", "192.0.2.8"))
    assert not throttle_first_in_window(window_seconds=300, key=("bearer-failed-audit", "192.0.2.8"))
    assert throttle_first_in_window(window_seconds=300, key=("bearer-failed-audit", "192.0.2.9"))


def test_with_the_store_away_the_account_family_follows_the_one_redis_down_policy(db, settings):
    settings.MCP_RATE_LIMIT_STORAGE_URL = UNREACHABLE
    with pytest.raises(ServiceUnavailable) as unavailable:
        _hit()
    assert unavailable.value.code == "rate_limiter_unavailable"
    settings.QUOTA_WHEN_REDIS_DOWN = {**settings.QUOTA_WHEN_REDIS_DOWN, "account": "local"}
    _hit()
    _hit()
    with pytest.raises(RateLimitExceeded):
        _hit()
    # Aggregation never stops recording for want of the store (family "once", local by default).
    assert throttle_first_in_window(window_seconds=300, key=("bearer-failed-audit", "192.0.2.10"))


@override_settings(REGISTRATION_RATE_PER_ADDRESS="1/hour", REGISTRATION_RATE_GLOBAL="100/hour")
def test_a_refused_sign_up_carries_the_rate_limit_headers_every_limit_sends(db, anon_client):
    def register(name: str):
        return anon_client.post(
            "/api/auth/register",
            {"username": name, "password": "a-strong-passphrase-1"},
            format="json",
            REMOTE_ADDR="198.51.100.77",
        )

    assert register("first").status_code == 201
    refused = register("second")
    assert refused.status_code == 429
    assert refused["RateLimit-Policy"] == '1;w=3600;burst=1;name="register"'
    assert refused["RateLimit-Remaining"] == "0"
    assert int(refused["Retry-After"]) == refused.json()["error"]["details"]["retry_after"]
