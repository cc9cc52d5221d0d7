"""Failed bearer tokens on REST (issue 7.9): refused with 429 past a threshold, audited in aggregate."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.accounts.services import pat_create
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _get(token: str, address: str = "198.51.100.7"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/todos", REMOTE_ADDR=address)


def _bad_token(number: int) -> str:
    return f"gw_pat_{number:012x}_guess{number}" if number % 2 else f"eyJhbGciOiJIUzI1NiJ9.e30.guess{number}"


@override_settings(BEARER_FAILURE_LIMIT="10 per 5 minutes")
def test_past_the_threshold_failed_tokens_get_429_in_the_error_shape(alice):
    statuses = [_get(_bad_token(number)).status_code for number in range(10)]
    throttled = _get(_bad_token(99))

    assert statuses == [401] * 10
    assert throttled.status_code == 429
    error = throttled.json()["error"]
    assert error["code"] == "too_many_failed_attempts"
    assert int(throttled["Retry-After"]) > 0
    assert "retry_after" in error["details"]


@override_settings(BEARER_FAILURE_LIMIT="10 per 5 minutes")
def test_the_throttle_counts_per_address_and_never_refuses_a_valid_token(alice):
    _row, good = pat_create(user=alice, name="cli", scopes=["todos:read"])
    for number in range(15):
        _get(_bad_token(number))
    assert _get(_bad_token(100)).status_code == 429
    # A valid token from the same (perhaps shared) address still works ...
    assert _get(good).status_code == 200
    # ... and another address's failures are its own.
    assert _get(_bad_token(101), address="203.0.113.9").status_code == 401


def test_hundreds_of_bad_tokens_write_a_bounded_number_of_audit_rows(alice):
    before = AuditEvent.objects.count()
    for number in range(200):
        _get(_bad_token(number))
    rows = AuditEvent.objects.all()[: AuditEvent.objects.count() - before]
    # (The refusals' own per-minute count, quota.rate_limited, is written when a minute closes: if the
    # loop crossed one, that row is there too; apps/quotas/tests/test_refusal_events.py covers it.)
    actions = sorted(event.action for event in rows if event.action != "quota.rate_limited")
    # One event when the address starts failing in a window, one when it crosses the threshold.
    assert actions == ["access_token.authentication_failed", "access_token.authentication_throttled"]
    failed = AuditEvent.objects.get(action="access_token.authentication_failed")
    assert failed.data["address"] == "198.51.100.7"
    assert failed.data["aggregated_window_seconds"] > 0
    assert "guess" not in str(failed.data)


def test_without_the_counter_store_a_bad_token_is_still_a_plain_401(alice, settings):
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    response = _get(_bad_token(1))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
