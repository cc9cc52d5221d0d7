"""A guard: a shared version checked in the limits' own round trip, counting nothing when it moved on."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.quotas.limiter import (
    Guard,
    GuardStale,
    Limit,
    _client,
    limits_hit,
    shared_version,
    shared_version_bump,
    shared_version_key,
)


def _limit(key: str = "guard-test") -> Limit:
    return Limit(family="user", name="user", key=key, amount=10, period_seconds=60, burst=10)


def test_the_current_version_admits_and_counts():
    version = shared_version("things")
    assert version and shared_version("things") == version  # created once, then read
    decision = limits_hit([_limit()], guard=Guard("things", version))
    assert decision.admitted and decision.guard_checked
    assert decision.states[0].remaining == 9


def test_a_moved_version_counts_nothing_and_names_the_new_one():
    version = shared_version("things")
    limits_hit([_limit()], guard=Guard("things", version))
    assert shared_version_bump("things")
    current = shared_version("things")
    assert current != version
    with pytest.raises(GuardStale) as stale:
        limits_hit([_limit()], guard=Guard("things", version))
    assert stale.value.version == current
    # Nothing was counted by the refused round trip: the next check sees 8 left, not 7.
    assert limits_hit([_limit()], guard=Guard("things", current)).states[0].remaining == 8


def test_a_lost_version_key_makes_every_copy_stale():
    version = shared_version("things")
    _client(settings.MCP_RATE_LIMIT_STORAGE_URL).delete(shared_version_key("things"))
    with pytest.raises(GuardStale) as stale:
        limits_hit([_limit()], guard=Guard("things", version))
    assert stale.value.version != version
    assert shared_version("things") == stale.value.version


def test_without_a_guard_nothing_is_checked():
    decision = limits_hit([_limit()])
    assert decision.admitted and not decision.guard_checked
