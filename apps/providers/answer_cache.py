"""The answer cache: L1 in process (a bounded cachetools TTLCache) in front of L2 (Redis, django-redis).

A key names the sharing scope (normally the user), the route (provider, model), the versions the
answer depends on, and a digest of the normalised request. The versions are read from Redis on every
lookup (one round trip for all of them), so an L1 entry made before a todo change, a key change or a
manual flush is never served again, in any process: its key simply no longer matches.

Both levels slide: a hit re-arms the entry's TTL, up to AI_CACHE_MAX_AGE_SECONDS after the answer
was made. Only successful provider answers are stored, never errors, and never anything holding a
key (a CompletionResponse has no field for one).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from apps.core.local_cache import LocalTTLCache
from apps.providers.calls import CompletionRequest, CompletionResponse, Route

logger = logging.getLogger(__name__)

try:  # what a cache outage looks like; the cache is an optimisation, so an outage is a miss
    from django_redis.exceptions import ConnectionInterrupted

    CACHE_ERRORS: tuple[type[BaseException], ...] = (ConnectionInterrupted, RedisError, OSError)
except ImportError:  # pragma: no cover - django-redis is pinned
    CACHE_ERRORS = (RedisError, OSError)

ANSWER_PREFIX = "ai:answer"
VERSION_PREFIX = "ai:version"
STATS_KEY = "ai:cache:stats"
L1_HIT, L2_HIT, MISS = "l1_hit", "l2_hit", "miss"


@dataclass(frozen=True)
class Hit:
    response: CompletionResponse
    level: str  # "l1" or "l2"


_l1 = LocalTTLCache("AI_CACHE_L1_SIZE", "AI_CACHE_L1_SECONDS")
_local_stats: dict[str, int] = {L1_HIT: 0, L2_HIT: 0, MISS: 0}


def _redis() -> Any | None:
    try:
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    except (ImportError, NotImplementedError):
        return None


def _count(field: str) -> None:
    redis = _redis()
    if redis is None:
        _local_stats[field] += 1
        return
    with contextlib.suppress(CACHE_ERRORS):
        redis.hincrby(STATS_KEY, field, 1)


def answer_cache_stats() -> dict[str, int]:
    """Hits per level and misses, across every process (Redis), for the operators' page."""
    redis = _redis()
    if redis is None:
        return dict(_local_stats)
    try:
        raw = redis.hgetall(STATS_KEY)
    except CACHE_ERRORS:
        return {}
    stats = {L1_HIT: 0, L2_HIT: 0, MISS: 0}
    stats.update({(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()})
    return stats


def _version_key(scope: str) -> str:
    return f"{VERSION_PREFIX}:{scope}"


def answer_versions(*, user_id: int, extra_keys: Sequence[str] = ()) -> str:
    """The versions a user's answers depend on (global flush, the user's AI state, the caller's extras)."""
    keys = [_version_key("global"), _version_key(f"user:{user_id}"), *extra_keys]
    try:
        found = cache.get_many(keys)
    except CACHE_ERRORS:
        return ""  # no versions, no caching (see answer_lookup)
    return ".".join(str(found.get(key) or 0) for key in keys)


def _bump(scope: str) -> None:
    key = _version_key(scope)
    try:
        cache.add(key, 0, timeout=None)
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=None)
    except CACHE_ERRORS:
        logger.error("Could not invalidate cached AI answers (%s); they expire within their TTL.", scope)


def answer_invalidate_user(*, user_id: int) -> None:
    """Every cached answer of this user becomes unreachable, in every process (key, preference, manual)."""
    _bump(f"user:{user_id}")


def answer_invalidate_all() -> None:
    _bump("global")
    _l1.clear()


def answer_key(*, scope: str, route: Route, versions: str, request: CompletionRequest) -> str:
    return f"{ANSWER_PREFIX}:{scope}:{route.provider}:{route.model}:{versions}:{request.digest()}"


def _fresh(entry: Any, now: float) -> bool:
    return isinstance(entry, dict) and now - float(entry.get("created", 0)) <= settings.AI_CACHE_MAX_AGE_SECONDS


def answer_lookup(keys: Sequence[str]) -> Hit | None:
    """The first cached answer among keys (in order): L1, then L2 in one round trip; slides the TTLs."""
    if not keys or not settings.AI_CACHE_ENABLED:
        return None
    now = time.time()
    for key in keys:
        entry = _l1.get(key, rearm=True)  # hot entries stay
        if _fresh(entry, now):
            _count(L1_HIT)
            return Hit(CompletionResponse.from_dict(entry["response"]), "l1")
    try:
        found = cache.get_many(list(keys))
        for key in keys:
            entry = found.get(key)
            if _fresh(entry, now):
                cache.touch(key, settings.AI_CACHE_TTL_SECONDS)
                _l1.set(key, entry)
                _count(L2_HIT)
                return Hit(CompletionResponse.from_dict(entry["response"]), "l2")
    except CACHE_ERRORS:
        logger.warning("AI answer cache unavailable; asking the provider.")
    _count(MISS)
    return None


def answer_cached(keys: Sequence[str]) -> bool:
    """Whether an answer is cached under any of `keys`, without serving it: no TTL slides, no hit counted.

    For a refusal to say truthfully whether asking again would find an answer; the keys carry their
    scope (the user), so no other user's answers are ever looked at.
    """
    if not keys or not settings.AI_CACHE_ENABLED:
        return False
    now = time.time()
    if any(_fresh(_l1.get(key), now) for key in keys):
        return True
    try:
        found = cache.get_many(list(keys))
    except CACHE_ERRORS:
        return False
    return any(_fresh(found.get(key), now) for key in keys)


def answer_store(key: str, response: CompletionResponse) -> None:
    if not settings.AI_CACHE_ENABLED:
        return
    entry = {"response": response.as_dict(), "created": time.time()}
    _l1.set(key, entry)
    try:
        cache.set(key, entry, timeout=settings.AI_CACHE_TTL_SECONDS)
    except CACHE_ERRORS:
        logger.warning("AI answer cache unavailable; answer not stored.")


def answer_l1_clear() -> None:
    """Empty this process's L1 (tests; a deploy that changes the answer format)."""
    _l1.clear()
