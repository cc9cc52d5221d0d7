"""One circuit breaker per provider and base URL, its state in Redis so every process sees it.

pybreaker holds a lock around the whole protected call, which would queue every call to a provider
behind the one in flight; so each thread gets its own CircuitBreaker object, and they share the
state through the storage (Redis, or one in-memory storage per breaker without Redis).

Transitions are audited once, by the writer that changed the stored state (an atomic GETSET), not
by every process that later notices the new state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pybreaker
from django.conf import settings
from redis.exceptions import RedisError

from apps.audit.services import audit_event_record
from apps.providers.calls import BREAKER_OPEN, ProviderFailure, Route
from apps.providers.models import ProviderCircuit
from apps.providers.registry import provider_spec_get

logger = logging.getLogger(__name__)
T = TypeVar("T")
NAMESPACE = "gw:breaker"


def circuit_name(*, provider: str, base_url: str) -> str:
    return f"{provider}:{hashlib.sha256(base_url.encode()).hexdigest()[:16]}"


def _transition_audit(name: str, route: Route, old: str, new: str) -> None:
    try:
        # The admin lists breakers from this table: the ones that ever changed state.
        ProviderCircuit.objects.get_or_create(
            name=name, defaults={"provider": route.provider, "base_url": route.base_url[:300]}
        )
        audit_event_record(
            action="provider.breaker_changed",
            outcome="success" if new == pybreaker.STATE_CLOSED else "failure",
            target_type="provider_circuit",
            target_id=name,
            data={"provider": route.provider, "from": old, "to": new},
        )
    except Exception:  # an audit failure must not turn a provider answer into an error
        logger.exception("Could not audit the breaker change of %s", name)


class _AuditedRedisStorage(pybreaker.CircuitRedisStorage):
    def __init__(self, name: str, route: Route, redis: Any) -> None:
        self._circuit = name
        self._route = route
        super().__init__(pybreaker.STATE_CLOSED, redis, namespace=f"{NAMESPACE}:{name}")

    def _state_set(self, state: str) -> None:
        try:
            old = self._redis.getset(self._namespace("state"), str(state))
        except RedisError:
            logger.exception("Breaker %s: state not stored", self._circuit)
            return
        old_state = old.decode() if isinstance(old, bytes) else (old or pybreaker.STATE_CLOSED)
        if old_state != state:
            _transition_audit(self._circuit, self._route, old_state, state)

    state = property(pybreaker.CircuitRedisStorage.state.fget, _state_set)


class _AuditedMemoryStorage(pybreaker.CircuitMemoryStorage):
    def __init__(self, name: str, route: Route) -> None:
        self._circuit = name
        self._route = route
        self._guard = threading.Lock()
        super().__init__(pybreaker.STATE_CLOSED)

    def _state_set(self, state: str) -> None:
        with self._guard:
            old, self._state = self._state, state
        if old != state:
            _transition_audit(self._circuit, self._route, old, state)

    state = property(pybreaker.CircuitMemoryStorage.state.fget, _state_set)


_memory_storages: dict[str, _AuditedMemoryStorage] = {}
_registry_lock = threading.Lock()
_local = threading.local()


def _redis() -> Any | None:
    try:
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    except (ImportError, NotImplementedError):  # not a django-redis cache: the embedded default
        return None


def _storage(name: str, route: Route) -> pybreaker.CircuitBreakerStorage:
    redis = _redis()
    if redis is not None:
        return _AuditedRedisStorage(name, route, redis)
    with _registry_lock:
        return _memory_storages.setdefault(name, _AuditedMemoryStorage(name, route))


def _excluded(exc: BaseException) -> bool:
    """Failures that say nothing about the provider's health (a refused key, a spent quota)."""
    return isinstance(exc, ProviderFailure) and not exc.counts_against_provider


def breaker_for(route: Route) -> pybreaker.CircuitBreaker:
    name = circuit_name(provider=route.provider, base_url=route.base_url)
    shape = (name, settings.PROVIDER_BREAKER_FAILURES, settings.PROVIDER_BREAKER_RESET_SECONDS)
    breakers: dict[tuple, pybreaker.CircuitBreaker] = _local.__dict__.setdefault("breakers", {})
    breaker = breakers.get(shape)
    if breaker is None:
        breaker = pybreaker.CircuitBreaker(
            fail_max=settings.PROVIDER_BREAKER_FAILURES,
            reset_timeout=settings.PROVIDER_BREAKER_RESET_SECONDS,
            exclude=[_excluded],
            state_storage=_storage(name, Route(route.provider, route.base_url, "")),
            name=name,
            throw_new_error_on_trip=False,
        )
        breakers[shape] = breaker
    return breaker


def open_for_seconds(breaker: pybreaker.CircuitBreaker) -> int | None:
    """Seconds until an open breaker lets a trial call through; None when calls may go ahead."""
    storage = breaker._state_storage
    if storage.state != pybreaker.STATE_OPEN:
        return None
    opened_at = storage.opened_at
    if opened_at is None:
        return None
    remaining = (opened_at + dt.timedelta(seconds=breaker.reset_timeout) - dt.datetime.now(dt.UTC)).total_seconds()
    return max(1, int(remaining) + 1) if remaining > 0 else None


def breaker_call(breaker: pybreaker.CircuitBreaker, func: Callable[[], T], *, display_name: str) -> T:
    try:
        return breaker.call(func)
    except pybreaker.CircuitBreakerError:
        raise ProviderFailure(
            BREAKER_OPEN,
            f"{display_name} failed repeatedly; calls are paused for a moment.",
            retry_after=open_for_seconds(breaker),
        ) from None


@dataclass(frozen=True)
class CircuitSnapshot:
    state: str
    failures: int
    opened_at: dt.datetime | None


def circuit_snapshot(circuit: ProviderCircuit) -> CircuitSnapshot:
    storage = _storage(circuit.name, Route(circuit.provider, circuit.base_url, ""))
    return CircuitSnapshot(state=storage.state, failures=storage.counter, opened_at=storage.opened_at)


def circuit_reset(*, circuit: ProviderCircuit, actor: Any) -> None:
    """Close a breaker by hand (the admin action): every process sees it closed on its next call."""
    storage = _storage(circuit.name, Route(circuit.provider, circuit.base_url, ""))
    storage.reset_counter()
    storage.reset_success_counter()
    storage.state = pybreaker.STATE_CLOSED
    audit_event_record(
        action="provider.breaker_reset",
        actor=actor,
        target_type="provider_circuit",
        target_id=circuit.name,
        data={"provider": circuit.provider, "display_name": provider_spec_get(circuit.provider).display_name},
    )
