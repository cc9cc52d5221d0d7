"""Refusals by the rate limits leave a trace (issue 21 item 4): one audit event per caller (or client
address), limit and minute, with the count; counted by the engine in the refusing round trip, so a
flood costs no database write per refused request."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from apps.audit.models import AuditEvent
from apps.core import limiter
from apps.core.limiter import refusals_flush

# Real commits: a flush inside a transaction (a test wrapped in one) leaves the counts for later.
pytestmark = pytest.mark.django_db(transaction=True)
ACTION = "quota.rate_limited"


def _refusal_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=ACTION).order_by("id"))


def _within_one_minute(seconds: float = 10) -> None:
    """Begin where `seconds` fit before the minute ends: the first refusal of a new minute writes the
    closed one, so requests that straddle a minute's end write an event before any flush (seen once, on a
    loaded machine). The minute is the limits engine's clock (Redis TIME, here on this host) and cannot be
    injected; this host's clock is the same."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


def test_a_callers_refusals_are_one_event_with_the_count_and_none_before_the_minute_closes(
    alice, alice_client, settings
):
    settings.QUOTA_USER_RATE = "2/hour"
    settings.QUOTA_USER_BURST = 2
    _within_one_minute()
    statuses = [alice_client.get("/api/todos/").status_code for _ in range(8)]
    assert statuses == [200, 200] + [429] * 6
    assert _refusal_events() == []  # the refused requests wrote nothing
    assert refusals_flush(include_current=True) == 1
    [event] = _refusal_events()
    assert event.actor_id == alice.pk and event.outcome == "denied" and event.error_code == "rate_limited"
    assert event.category == "quota" and event.target_type == "rate_limit" and event.target_id == "user"
    assert event.data["count"] == 6 and event.data["limit"] == "user" and event.data["minute"].endswith("+00:00")
    # Taken once: a second flush (another process, the periodic job) finds nothing to write again.
    assert refusals_flush(include_current=True) == 0
    assert len(_refusal_events()) == 1


@override_settings(QUOTA_ANON_RATE="1/hour", QUOTA_ANON_BURST=1)
def test_anonymous_refusals_are_counted_per_client_address(anon_client):
    def from_address(address: str) -> int:
        return anon_client.post("/api/auth/token", {}, format="json", REMOTE_ADDR=address).status_code

    assert [from_address("198.51.100.20") for _ in range(4)][1:] == [429, 429, 429]
    assert [from_address("198.51.100.21") for _ in range(3)][1:] == [429, 429]
    refusals_flush(include_current=True)
    counts = {event.data["counted_by"]: event.data["count"] for event in _refusal_events()}
    assert counts == {"198.51.100.20": 3, "198.51.100.21": 2}
    assert {event.actor_id for event in _refusal_events()} == {None}


def test_each_limit_that_refused_is_its_own_event(alice, settings):
    from apps.accounts.principal import principal_for_user
    from apps.mcp_tools.pipeline import tool_invoke

    settings.MCP_RATE_LIMIT_DEFAULT = "1/hour"
    principal = principal_for_user(alice)
    outcomes = [
        tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="rest").success
        for _ in range(3)
    ]
    assert outcomes == [True, False, False]
    refusals_flush(include_current=True)
    [event] = _refusal_events()
    assert event.data["limit"] == "tool current_time" and event.data["count"] == 2 and event.actor_id == alice.pk


def test_the_first_refusal_of_a_new_minute_writes_the_closed_minutes(alice, alice_client, settings):
    settings.QUOTA_USER_RATE = "1/hour"
    settings.QUOTA_USER_BURST = 1
    # A count left from an earlier minute, as the engine stores it (Redis hash or local table).
    earlier = 1_577_836_800 // 60  # 2020-01-01 00:00 UTC
    key = f"{limiter.KEY_PREFIX}:user:{alice.pk}:3600000000:1"
    if limiter.limiter_shared():
        client = limiter._client(settings.MCP_RATE_LIMIT_STORAGE_URL)
        client.hset(f"{limiter.KEY_PREFIX}:refused:{earlier}", key, 40)
        client.sadd(f"{limiter.KEY_PREFIX}:refused:minutes", earlier)
    else:
        limiter._local._refused[earlier] = {key: 40}
    assert alice_client.get("/api/todos/").status_code == 200
    assert alice_client.get("/api/todos/").status_code == 429  # this minute's first refusal
    [event] = _refusal_events()
    assert event.data["count"] == 40 and event.data["minute"].startswith("2020-")
    # This minute's own refusal waits for its minute to close.
    assert refusals_flush(include_current=True) == 1 and _refusal_events()[-1].data["count"] == 1


def test_a_refusal_flood_adds_no_row_per_request_and_stays_a_429_when_recording_fails(
    alice_client, settings, monkeypatch
):
    settings.QUOTA_USER_RATE = "1/hour"
    settings.QUOTA_USER_BURST = 1
    statuses = {alice_client.get("/api/todos/").status_code for _ in range(60)}
    events = _refusal_events()
    # 59 refusals, no row for any of them. A flood slowed down enough to cross a minute's end (on a
    # loaded CI machine) has that closed minute written once, with its count: still not one per request.
    assert statuses == {200, 429} and len(events) <= 1
    assert all(1 <= event.data["count"] <= 59 for event in events)

    def broken(taken):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(limiter, "_refusal_writer", broken)
    assert refusals_flush(include_current=True) == 0  # logged, never raised into the refused request
