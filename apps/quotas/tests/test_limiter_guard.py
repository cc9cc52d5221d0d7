"""A guard: a shared version checked in the limits' own round trip, counting nothing when it moved on."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.core.limiter import (
    Guard,
    GuardStale,
    Limit,
    _client,
    limits_hit,
    shared_version,
    shared_version_bump,
    shared_version_key,
)

# A guard is checked inside the limits' Redis round trip; the per-process limiter has none to check.
pytestmark = pytest.mark.redis


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


def test_keys_read_along_come_back_with_the_decision_in_the_same_round_trip():
    client = _client(settings.MCP_RATE_LIMIT_STORAGE_URL)
    client.set("read-along:present", "7")
    client.delete("read-along:missing")
    version = shared_version("things")
    decision = limits_hit(
        [_limit()], guard=Guard("things", version), read_along=("read-along:present", "read-along:missing")
    )
    assert decision.admitted and decision.read_along == (b"7", None)
    assert decision.states[0].remaining == 9
    # Without a guard too, and a refusal still reads them (the caller decides what to do with both).
    tight = Limit(family="user", name="user", key="read-along-tight", amount=1, period_seconds=60, burst=1)
    assert limits_hit([tight], read_along=("read-along:present",)).read_along == (b"7",)
    refused = limits_hit([tight], read_along=("read-along:present",))
    assert not refused.admitted and refused.read_along == (b"7",)


def test_nothing_asked_nothing_read():
    assert limits_hit([_limit()]).read_along is None


def test_read_along_sees_a_change_made_between_two_calls():
    client = _client(settings.MCP_RATE_LIMIT_STORAGE_URL)
    client.set("read-along:version", "1")
    assert limits_hit([_limit()], read_along=("read-along:version",)).read_along == (b"1",)
    client.incr("read-along:version")
    assert limits_hit([_limit()], read_along=("read-along:version",)).read_along == (b"2",)
