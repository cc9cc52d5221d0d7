"""A cached hit's Redis round trips: the group version comes with the rate limits' own round trip."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from redis.connection import AbstractConnection

from apps.accounts.principal import principal_for_user
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.pipeline.cache import cache_group_bump
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


def test_a_cached_hit_reads_the_version_in_the_limits_round_trip(result_cache, alice):
    principal = principal_for_user(alice, auth_method="jwt")
    assert _call(principal).cached is False
    with redis_round_trips() as sent:
        hit = _call(principal)
    assert hit.cached is True
    # The limits (with the version read along), then the entry: no GET of the version of its own.
    assert [command for command, _key in sent] == ["EVALSHA", "GET"]
    assert ":mcp:result:" in sent[1][1]


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
