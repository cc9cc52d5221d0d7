"""The tool result cache: per user, per tool, per canonical arguments, with per-user versions.

A cache group (e.g. "todos") has a version number per user. It is part of every key, so bumping it
makes all of that user's cached todo results unreachable at once, on every process, without
scanning keys. The cache knows groups, not the data behind them: whoever owns a group calls
`cache_group_changed` when that data changes (the "todos" group: apps.mcp_tools.tools.todo_group,
on the todos app's change event, whichever door made the change).

Two levels: L1 in each process (a bounded cachetools TTLCache) in front of L2 (the shared cache,
Redis). The version is read from Redis on every call (with the rate limits, see invoke.py), so an
L1 entry made before a change is never served again in any process: its key no longer matches. A
hit in L1 costs no round trip of its own and no unpickling of a shared entry; an L1 entry never
outlives its L2 entry (the expiry travels with the entry) nor MCP_RESULT_L1_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from apps.core.local_cache import LocalTTLCache

logger = logging.getLogger(__name__)
# What a cache outage looks like; the cache is an optimisation, so an outage means "miss", not an error.
CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)

# v2: entries hold (expiry, result); a process of the release before, which stored bare results,
# reads and writes other keys during a rolling deploy instead of serving a tuple as a result.
RESULT_PREFIX = "mcp:result:v2"
VERSION_PREFIX = "mcp:version"


def arguments_digest(arguments: dict[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _version_key(user_id: int, group: str) -> str:
    return f"{VERSION_PREFIX}:{group}:{user_id}"


def cache_group_version_key(*, user_id: int, group: str) -> str:
    """The cache key holding a user's version of a group (AI answers read it with their own versions)."""
    return _version_key(user_id, group)


def cache_group_version(*, user_id: int, group: str) -> int:
    return _version_known(cache.get(_version_key(user_id, group)), user_id, group)


def _version_known(value: bytes | int | None, user_id: int, group: str) -> int:
    return int(value) if value is not None else _version_start(user_id, group)


def _version_start(user_id: int, group: str) -> int:
    """A missing version (first use, or Redis lost its data) starts at the clock in microseconds.

    Not at 0: after Redis lost the versions, counting up from 0 again could reach a number an L1 entry
    (kept in a process's memory) was made under, and that entry would be served though the data
    changed since. The clock is beyond every version counted up from an earlier start.
    """
    key = _version_key(user_id, group)
    start = time.time_ns() // 1000
    if cache.add(key, start, timeout=None):
        return start
    return int(cache.get(key) or 0)  # another process started it first


def version_read_along(*, user_id: int, group: str) -> tuple[str, ...]:
    """The raw Redis key of a user's group version, for the rate limits' round trip to read along
    (apps.core.limiter `read_along`), when the limits' Redis is the cache's own; else nothing."""
    if not group or not _cache_is_limit_store():
        return ()
    return (str(cache.client.make_key(_version_key(user_id, group))),)


def _cache_is_limit_store() -> bool:
    default = settings.CACHES["default"]
    return default["BACKEND"] == "django_redis.cache.RedisCache" and (
        default["LOCATION"] == settings.MCP_RATE_LIMIT_STORAGE_URL
    )


def result_key_or_none(
    *,
    user_id: int,
    tool_name: str,
    group: str,
    arguments: dict[str, Any],
    read_along: tuple[bytes | None, ...] | None = None,
) -> str | None:
    """The cache key, or None when the cache cannot be reached (then the call simply is not cached).
    `read_along`: the group's version as the limits' round trip read it (raw: django-redis stores
    integers as their digits), when it did; else it is read here."""
    try:
        if not group:
            version = 0
        elif read_along:
            version = _version_known(read_along[0], user_id, group)
        else:
            version = cache_group_version(user_id=user_id, group=group)
        return f"{RESULT_PREFIX}:{user_id}:{tool_name}:{version}:{arguments_digest(arguments)}"
    except CACHE_ERRORS:
        logger.warning("Tool result cache unavailable; computing the result instead.")
        return None


def cache_group_bump(*, user_id: int, group: str) -> None:
    key = _version_key(user_id, group)
    try:
        # add() then incr() is atomic on Redis; the version never expires so it can only move forward.
        # A missing one starts at the clock, as in _version_start.
        cache.add(key, time.time_ns() // 1000, timeout=None)
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, time.time_ns() // 1000, timeout=None)
    except CACHE_ERRORS:
        # The user's change must not fail because the cache is down; entries expire within their TTL.
        logger.error("Could not invalidate cached %s results for user %s.", group, user_id)


_l1 = LocalTTLCache("MCP_RESULT_L1_SIZE", "MCP_RESULT_L1_SECONDS")


def _l1_get(key: str) -> dict[str, Any] | None:
    entry = _l1.get(key)
    if entry is None:
        return None
    expires_at, pickled = entry
    if time.time() >= expires_at:  # its shared entry has expired too
        return None
    # Pickled so that every hit is an object of its own: a caller changing the dict it got must not
    # change what the next caller gets (unpickling a tool result is cheaper than a deep copy).
    return pickle.loads(pickled)  # noqa: S301 - bytes this process pickled itself


def _l1_set(key: str, value: dict[str, Any], expires_at: float) -> None:
    _l1.set(key, (expires_at, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))


def result_l1_clear() -> None:
    """Forget this process's L1 (tests; what another process, which never had the entries, sees)."""
    _l1.clear()


def result_get(key: str) -> dict[str, Any] | None:
    hit = _l1_get(key)
    if hit is not None:
        return hit
    try:
        stored = cache.get(key)
    except CACHE_ERRORS:
        logger.warning("Tool result cache unavailable; computing the result instead.")
        return None
    if stored is None:
        return None
    expires_at, value = stored  # what result_set stores under the v2 prefix
    if time.time() >= expires_at:  # the store's own expiry is coarser than ours (Redis, local memory)
        return None
    _l1_set(key, value, expires_at)
    return value


def result_set(key: str, value: dict[str, Any], *, ttl: int) -> None:
    expires_at = time.time() + ttl
    _l1_set(key, value, expires_at)
    try:
        cache.set(key, (expires_at, value), timeout=ttl)
    except CACHE_ERRORS:
        logger.warning("Tool result cache unavailable; result not stored.")


def cache_group_changed(*, user_id: int, group: str) -> None:
    """The data behind a user's group changed: every result cached from it is unreachable from now on."""
    cache_group_bump(user_id=user_id, group=group)
    # Again after commit: a read in another transaction may have cached pre-commit data meanwhile.
    transaction.on_commit(lambda: cache_group_bump(user_id=user_id, group=group))
