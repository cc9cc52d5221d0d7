"""A cached hit's Redis round trips: the group version comes with the rate limits' own round trip,
and the result from this process's L1 when it has it, else from the shared L2."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
import time_machine
from django.core.cache import cache
from django_redis import get_redis_connection
from redis.connection import AbstractConnection

from apps.accounts.principal import principal_for_user
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.pipeline.cache import (
    cache_group_bump,
    cache_group_version_key,
    result_get,
    result_l1_clear,
    result_set,
)
from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db


@contextmanager
def redis_round_trips():
    """The command and first key of every request this process sends to Redis (any client: the
    cache's, the limiter's); each is answered before the next is sent, so each is a round trip."""
    sent: list[tuple[str, str]] = []
    real = AbstractConnection.send_command

    def recorded(self, *args, **kwargs):
        command = [part.decode() if isinstance(part, bytes) else str(part) for part in args]
        sent.append((command[0].upper(), command[3] if command[0].upper() == "EVALSHA" else command[1]))
        return real(self, *args, **kwargs)

    AbstractConnection.send_command = recorded
    try:
        yield sent
    finally:
        AbstractConnection.send_command = real


@pytest.fixture
def result_cache(settings):
    settings.MCP_RESULT_CACHE = True


def _call(principal, tool="todo_overview"):
    return tool_invoke(principal=principal, tool_name=tool, arguments={}, transport="mcp-http")


@pytest.mark.redis
def test_a_cached_hit_is_one_round_trip_the_limits_with_the_version_read_along(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    assert _call(principal).cached is False
    with redis_round_trips() as sent:
        hit = _call(principal)
    assert hit.cached is True
    # No GET of the version of its own, and the entry from this process's L1.
    assert [command for command, _key in sent] == ["EVALSHA"]


@pytest.mark.redis
def test_another_process_gets_the_entry_from_l2_once_then_from_its_own_l1(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    first = _call(principal)
    result_l1_clear()  # as a process that never computed it
    with redis_round_trips() as sent:
        hit = _call(principal)
    assert hit.cached is True and hit.result == first.result
    assert [command for command, _key in sent] == ["EVALSHA", "GET"]
    assert ":mcp:result:" in sent[1][1]
    with redis_round_trips() as sent:
        assert _call(principal).cached is True
    assert [command for command, _key in sent] == ["EVALSHA"]


@pytest.mark.redis
def test_without_l1_a_hit_reads_the_entry_from_l2(result_cache, alice, settings):
    settings.MCP_RESULT_L1_SIZE = 0
    principal = principal_for_user(alice, auth_method="jwt")
    _call(principal)
    with redis_round_trips() as sent:
        assert _call(principal).cached is True
    assert [command for command, _key in sent] == ["EVALSHA", "GET"]


@pytest.mark.redis
def test_a_version_moved_by_another_process_is_seen_although_l1_holds_the_old_entry(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    _call(principal)
    assert _call(principal).cached is True
    # What another process's bump does: the version key moves in Redis, this process's L1 is untouched.
    raw_key = cache.client.make_key(cache_group_version_key(user_id=alice.pk, group="todos"))
    get_redis_connection("default").incr(raw_key)
    assert _call(principal).cached is False


def test_an_l1_entry_is_not_served_after_its_shared_entry_expired(result_cache, settings):
    settings.MCP_RESULT_L1_SECONDS = 3600
    with time_machine.travel(time.time(), tick=False) as clock:
        result_set("l1-expiry-test", {"answer": 1}, ttl=1)
        assert result_get("l1-expiry-test") == {"answer": 1}
        clock.shift(1.1)
        assert result_get("l1-expiry-test") is None


def test_a_caller_changing_its_result_does_not_change_the_next_hit(result_cache):
    result_set("l1-copy-test", {"items": [1, 2]}, ttl=30)
    first = result_get("l1-copy-test")
    first["items"].append(3)
    first["extra"] = True
    assert result_get("l1-copy-test") == {"items": [1, 2]}


def test_a_version_read_along_still_sees_every_change(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    first = _call(principal)
    assert (first.cached, first.result["total"]) == (False, 0)
    todo_create(owner=alice, title="one")  # bumps alice's todos version
    after = _call(principal)
    assert (after.cached, after.result["total"]) == (False, 1)
    assert _call(principal).cached is True
    # A bump from elsewhere (another process, the admin) is seen by the very next call.
    cache_group_bump(user_id=alice.pk, group="todos")
    assert _call(principal).cached is False


@pytest.mark.redis
def test_with_the_limits_in_another_store_the_version_is_read_on_its_own(result_cache, alice, settings):
    settings.MCP_RATE_LIMIT_STORAGE_URL = "memory://"
    principal = principal_for_user(alice, auth_method="jwt")
    _call(principal)
    with redis_round_trips() as sent:
        hit = _call(principal)
    assert hit.cached is True
    # The limits are counted in this process, so the version is a GET of its own before the entry.
    keys = [key for _command, key in sent]
    assert any(":mcp:version:todos:" in key for key in keys)
    assert "EVALSHA" not in [command for command, _key in sent]
    cache_group_bump(user_id=alice.pk, group="todos")
    assert _call(principal).cached is False


@pytest.mark.redis
def test_after_redis_lost_its_data_an_entry_in_l1_is_not_served_again(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    _call(principal)
    assert _call(principal).cached is True
    # Redis restarted empty (it keeps nothing on disk here): the versions are gone, this process's L1
    # is not. A version counted from 0 again could meet the key of an entry made before; it starts
    # at the clock instead, so the entry's key no longer matches.
    get_redis_connection("default").flushdb()
    assert _call(principal).cached is False
    assert _call(principal).cached is True
