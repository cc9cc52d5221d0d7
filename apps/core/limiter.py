"""The one rate-limit engine: every limit that applies to one request, checked and counted in one
Redis round trip.

Its users: apps.quotas (the request limits of every door: per user, address, tool, provider) and
apps.core.throttle (the counters of doors with no trusted caller yet: sign-up, failed bearer
tokens, password reset and change, and "once per window" audit aggregation). Here in core, below
every app, so that accounts can use it as well as quotas; the same script, the same Redis, the same
Redis-down policy (QUOTA_WHEN_REDIS_DOWN, per family) and the same headers (`rate_limit_headers`).

The scheme is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key):
a rate of N per period refills one request every period/N, and the bucket holds `burst` requests.
One Lua script looks at every key of the request and counts the request against all of them only
if all admit it, so concurrent requests from any number of processes can never pass a limit, and a
request refused by one limit does not use up another.

When Redis cannot be reached, each limit family's setting decides: "closed" refuses with 503,
"local" counts in this process's memory (so with k processes a client gets up to k times the
limit, but never unlimited). Never a 500.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.db import transaction
from limits import parse

from apps.core.errors import ServiceUnavailable
from apps.core.limiter_scripts import LIMITS_HIT, REFUSALS_TAKE

logger = logging.getLogger(__name__)

KEY_PREFIX = "gw-quota"
ONCE_KEY_PREFIX = f"{KEY_PREFIX}:once:"  # the Lua script knows it too
# account: sign-up, failed bearer tokens, password reset and change (apps.core.throttle);
# once: "do this once per window" (aggregated audit events), an economy rather than a guard.
FAMILIES = ("user", "tool", "anonymous", "provider", "account", "once")
FAIL_CLOSED = "closed"
FAIL_LOCAL = "local"
# After a failed round trip, go straight to the fallback for this long instead of paying a connect
# timeout on every request while Redis is away.
REDIS_RETRY_SECONDS = 1.0
LOCAL_MAX_KEYS = 100_000
US = 1_000_000


@dataclass(frozen=True)
class Limit:
    """One limit on one request: `burst` at once, refilled at `amount` per `period_seconds`."""

    family: str  # user | tool | anonymous | provider: chooses the behaviour when Redis is down
    name: str  # what the client is told: "user", "tool current_time", "address", "provider <name>"
    key: str  # whose counter: "user:12", "tool:12:current_time"
    amount: int
    period_seconds: int
    burst: int
    source: str = ""  # where the rate comes from: "setting", "role user", "override", "tool policy"

    @property
    def interval_us(self) -> int:
        return max(1, round(self.period_seconds * US / self.amount))

    @property
    def rate_text(self) -> str:
        return f"{self.amount}/{self.period_seconds}s (burst {self.burst})"


@dataclass(frozen=True)
class LimitState:
    limit: Limit
    admitted: bool
    remaining: int
    retry_after_seconds: int  # 0 when admitted
    reset_seconds: int  # until the bucket is full again


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: admitted only if every limit admitted it."""

    states: tuple[LimitState, ...]
    # True when the request's guard (see `limits_hit`) was checked in the same round trip.
    guard_checked: bool = False
    # The values of the keys `limits_hit` was asked to read along (None for a missing key), or None
    # when they were not read (no shared store): then the caller reads them itself.
    read_along: tuple[bytes | None, ...] | None = None

    @property
    def admitted(self) -> bool:
        return all(state.admitted for state in self.states)

    @property
    def binding(self) -> LimitState | None:
        """The limit to report: the refusing one that waits longest, else the one with the least left."""
        if not self.states:
            return None
        refused = [state for state in self.states if not state.admitted]
        if refused:
            return max(refused, key=lambda state: state.retry_after_seconds)
        return min(self.states, key=lambda state: (state.remaining, -state.reset_seconds))


def rate_split(rate: str) -> tuple[int, int]:
    """'120/minute' -> (120, 60): the `limits` notation, as the settings and the tool policies use."""
    item = _parse(rate)
    return item.amount, item.get_expiry()


@lru_cache(maxsize=256)
def _parse(rate: str):
    return parse(rate)


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


@lru_cache(maxsize=4)
def _script(url: str):
    return _client(url).register_script(LIMITS_HIT)


class _LocalBuckets:
    """The per-process fallback: the same GCRA over a bounded in-memory table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tats: dict[str, int] = {}
        # {minute: {storage key: refusals}}, as the Lua script counts them in Redis.
        self._refused: dict[int, dict[str, int]] = {}

    def hit(self, limits: list[Limit], *, dry: bool = False) -> tuple[Decision, bool]:
        """The decision, and whether it made the first counted refusal of a minute."""
        now = time.time_ns() // 1000
        new_minute = False
        with self._lock:
            rows = []
            for limit in limits:
                tolerance = limit.interval_us * (limit.burst - 1)
                tat = max(self._tats.get(_storage_key(limit), now), now)
                if now < tat - tolerance:
                    rows.append((0, 0, tat - tolerance - now, tat - now))
                else:
                    new_tat = tat + limit.interval_us
                    rows.append((1, (now - (new_tat - tolerance - limit.interval_us)) // limit.interval_us, 0, new_tat))
            refused = any(row[0] == 0 for row in rows)
            if not refused and len(self._tats) >= LOCAL_MAX_KEYS:
                # A bucket whose time is past is full again: forgetting it changes nothing.
                self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
            out = []
            for limit, row in zip(limits, rows, strict=True):
                if row[0] == 1:
                    new_tat = row[3]
                    if refused:
                        out.append((1, row[1] + 1, 0, new_tat - limit.interval_us - now))
                    elif dry:
                        out.append((1, row[1], 0, new_tat - now))
                    else:
                        self._tats[_storage_key(limit)] = new_tat
                        out.append((1, row[1], 0, new_tat - now))
                else:
                    out.append(row)
            if refused and not dry:
                new_minute = self._count_refusals(limits, out, now // (60 * US))
        return _decision(limits, out), new_minute

    def _count_refusals(self, limits: list[Limit], rows: list, minute: int) -> bool:
        counted = [_storage_key(limit) for limit, row in zip(limits, rows, strict=True) if not row[0]]
        counted = [key for key in counted if not key.startswith(ONCE_KEY_PREFIX)]
        if not counted:
            return False
        new_minute = minute not in self._refused
        counts = self._refused.setdefault(minute, {})
        for key in counted:
            if key in counts or len(counts) < LOCAL_MAX_KEYS:
                counts[key] = counts.get(key, 0) + 1
        return new_minute

    def refusals_take(self, upto_minute: int) -> list[tuple[int, str, int]]:
        with self._lock:
            minutes = [minute for minute in self._refused if minute < upto_minute]
            taken = [(minute, key, count) for minute in minutes for key, count in self._refused.pop(minute).items()]
        return taken

    def reset(self) -> None:
        with self._lock:
            self._tats.clear()
            self._refused.clear()


_local = _LocalBuckets()
_redis_down_until = 0.0


def _decision(limits: list[Limit], rows) -> Decision:
    return Decision(
        states=tuple(
            LimitState(
                limit=limit,
                admitted=bool(row[0]),
                remaining=max(0, int(row[1])),
                retry_after_seconds=0 if row[0] else max(1, math.ceil(int(row[2]) / US)),
                reset_seconds=max(0, math.ceil(int(row[3]) / US)),
            )
            for limit, row in zip(limits, rows, strict=True)
        )
    )


def _storage_url() -> str:
    return settings.MCP_RATE_LIMIT_STORAGE_URL


def limiter_shared() -> bool:
    """True when the counters live in Redis, shared by every process (not this process's memory)."""
    return not _storage_url().startswith("memory://")


@dataclass(frozen=True)
class Guard:
    """A shared version a request's data depends on, checked in the limits' own round trip.

    A process keeps a copy of data that changes rarely (the tool policies) with the version it read;
    `limits_hit` counts the request only if the shared version is still that one, so the copy costs no
    round trip of its own and a change made anywhere applies to the very next request.
    """

    name: str
    version: str

    @property
    def key(self) -> str:
        return shared_version_key(self.name)


class GuardStale(Exception):
    """The guard's version changed: nothing was counted; reload the data and ask again."""

    def __init__(self, version: str) -> None:
        super().__init__(version)
        self.version = version


def shared_version_key(name: str) -> str:
    return f"{KEY_PREFIX}:version:{name}"


# A fresh version must differ from every earlier one, not be secret: a random per-process prefix and
# a counter give that without asking the OS for randomness on every guarded call.
_VERSION_PREFIX = secrets.token_hex(6)
_version_counter = itertools.count()


def _fresh_version() -> str:
    return f"{_VERSION_PREFIX}-{next(_version_counter)}"


def shared_version(name: str) -> str | None:
    """The current shared version of `name` (created if missing); None without a reachable Redis."""
    if not limiter_shared() or time.monotonic() < _redis_down_until:
        return None
    url = _storage_url()
    try:
        # SET NX GET: the existing version, or None after storing a fresh one (one round trip).
        fresh = _fresh_version()
        old = _client(url).set(shared_version_key(name), fresh, nx=True, get=True)
    except redis.RedisError as exc:
        logger.warning("rate-limit store unreachable: %s", type(exc).__name__)
        return None
    return old.decode() if isinstance(old, bytes) else (old or fresh)


def shared_version_bump(name: str) -> bool:
    """Give `name` a new shared version, so every process's copy is stale; False if Redis is away."""
    if not limiter_shared():
        return False
    try:
        _client(_storage_url()).set(shared_version_key(name), _fresh_version())
    except redis.RedisError as exc:
        logger.error("Could not publish a new version of %s: %s", name, type(exc).__name__)
        return False
    return True


def limits_peek(limits: list[Limit]) -> Decision:
    """What `limits_hit` would answer now, counting nothing (e.g. "is this caller already refused?")."""
    return limits_hit(limits, dry=True)


def limits_hit(
    limits: list[Limit], *, guard: Guard | None = None, read_along: tuple[str, ...] = (), dry: bool = False
) -> Decision:
    """Count one request against every limit in `limits` (all or none); one Redis round trip.

    With a `guard`, raises GuardStale (counting nothing) when its shared version has moved on. When
    the guard could not be checked (no shared store), the decision says so (`guard_checked` False).
    `read_along`: raw keys of the limits' Redis whose values the caller needs next (e.g. a cache
    version), read in the same round trip after the count; the decision carries them.
    Raises ServiceUnavailable when Redis is unreachable and a family of these limits is fail-closed.
    """
    global _redis_down_until
    if not limits:
        return Decision(states=())
    if not limiter_shared():
        return _local_hit(limits, dry=dry)
    url = _storage_url()
    if time.monotonic() >= _redis_down_until:
        keys = [_storage_key(limit) for limit in limits]
        args: list[int | str] = [len(limits), int(guard is not None), len(read_along), int(dry)]
        for limit in limits:
            args += [limit.interval_us, limit.interval_us * (limit.burst - 1)]
        if guard is not None:
            keys.append(guard.key)
            args += [guard.version, _fresh_version()]
        keys += read_along
        try:
            rows = _script(url)(keys=keys, args=args)
        except redis.RedisError as exc:
            _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning("rate-limit store unreachable: %s", type(exc).__name__)
        else:
            if rows and rows[0] == b"stale":
                raise GuardStale(rows[1].decode())
            decision = _decision(limits, rows[: len(limits)])
            values = tuple(rows[len(limits)]) if read_along else None
            if rows[-1] == b"new-minute":
                refusals_flush()
            return Decision(states=decision.states, guard_checked=guard is not None, read_along=values)
    return _fallback(limits, dry=dry)


def _storage_key(limit: Limit) -> str:
    # The bucket's time only means something under the rate that wrote it, so a changed rate (an
    # override, a new role default) starts a fresh bucket instead of inheriting the old one's debt.
    return f"{KEY_PREFIX}:{limit.key}:{limit.interval_us}:{limit.burst}"


def _fallback(limits: list[Limit], *, dry: bool = False) -> Decision:
    closed = sorted({limit.family for limit in limits if failure_mode(limit.family) == FAIL_CLOSED})
    if closed:
        raise ServiceUnavailable(
            "The rate limiter is unavailable; try again shortly.",
            code="rate_limiter_unavailable",
            retry_after=math.ceil(REDIS_RETRY_SECONDS),
            details={"limits": closed},
        )
    return _local_hit(limits, dry=dry)


def _local_hit(limits: list[Limit], *, dry: bool) -> Decision:
    decision, new_minute = _local.hit(limits, dry=dry)
    if new_minute:
        refusals_flush()
    return decision


def failure_mode(family: str) -> str:
    return settings.QUOTA_WHEN_REDIS_DOWN.get(family, FAIL_CLOSED)


def limits_reset() -> None:
    """Forget every counter, shared and local (tests; an operator lifting limits after an incident)."""
    global _redis_down_until
    _redis_down_until = 0.0
    _local.reset()
    if not limiter_shared():
        return
    client = _client(_storage_url())
    try:
        batch = []
        for key in client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    except redis.RedisError:
        pass


# --- Refusals, counted per limit key and minute (by the script above, or the local buckets) -------------
# The engine counts; what becomes of the counts (an audit event per key and minute) is the registered
# writer's business: apps.quotas registers one at start-up (core imports no app).

RefusalWriter = Callable[[list[tuple[int, str, int]]], None]
_refusal_writer: RefusalWriter | None = None


def refusal_writer_register(writer: RefusalWriter | None) -> None:
    global _refusal_writer
    _refusal_writer = writer


def limit_key_of(storage_key: str) -> str:
    """The Limit.key ("user:12", "address:2001:db8::1") a counter's storage key was made from."""
    return storage_key.removeprefix(f"{KEY_PREFIX}:").rsplit(":", 2)[0]


def refusals_take(*, include_current: bool = False) -> list[tuple[int, str, int]]:
    """(minute since the epoch, storage key, refusals) of every closed minute (with the current one if
    asked), taken out of the store: each count is handed out once, whichever process asks."""
    upto = time.time_ns() // (60 * US * 1000) + 1 if include_current else None
    taken = _local.refusals_take(upto if upto is not None else time.time_ns() // (60 * US * 1000))
    if limiter_shared() and time.monotonic() >= _redis_down_until:
        try:
            rows = _client(_storage_url()).eval(REFUSALS_TAKE, 0, upto or 0)
        except redis.RedisError as exc:
            logger.warning("rate-limit refusals not taken: %s", type(exc).__name__)
        else:
            for minute, flat in rows:
                pairs = zip(flat[::2], flat[1::2], strict=True)
                taken += [(int(minute), key.decode(), int(count)) for key, count in pairs]
    return taken


def refusals_flush(*, include_current: bool = False) -> int:
    """Hand the closed minutes' refusal counts to the writer; how many (key, minute) counts went.

    Called by the first refusal of each new minute (so a flood costs one flush a minute, whatever its
    size) and by a periodic job (so the last minute of a burst is written too). Never raises: a
    refusal must stay a 429, not become a 500."""
    if _refusal_writer is None or transaction.get_connection().in_atomic_block:
        # Inside a transaction the events could be rolled back with it (a refused password change):
        # the counts stay in the store for the next flush instead.
        return 0
    try:
        taken = refusals_take(include_current=include_current)
        if taken:
            _refusal_writer(taken)
    except Exception:
        logger.exception("Rate-limit refusals could not be recorded.")
        return 0
    return len(taken)
