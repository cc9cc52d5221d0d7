"""A short-lived, in-process cache of verified bearer tokens, so a busy client costs no database
round trip per call to prove who it is.

What is kept: for a token that just passed every check in `apps.accounts.bearer` (digest, expiry,
revocation, active user, credential stamp and live session for a JWT), the user and token rows it
resolved to, with the user's roles. Keyed by an HMAC of the token under a key that lives only in
this process's memory, so neither the token nor anything that could be replayed is stored.
Failures are never kept: every refused token goes the whole way, counted and audited.

How long a revocation can take (the stated bound): PRINCIPAL_CACHE_SECONDS (default 5) in every
other process, for a revoked or expired-by-revocation personal access token, a revoked JWT session,
a password change, "sign out everywhere", a deactivation or a role change. In the process that
made the change, at once: saving a user, a token, a session family or a role membership empties
this process's cache (signals below, and the revoke-everything services call
`principal_cache_clear`). Expiry is exact: each hit checks the token's own expiry again. Each hit
hands out copies of the rows, so a request that changes its user object changes nobody else's.
0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

from cachetools import TTLCache
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.identity import BearerIdentity

MAX_ENTRIES = 10_000
# Never written anywhere, new in every process: the cache keys mean nothing outside this memory.
_KEY = secrets.token_bytes(32)
_lock = threading.Lock()
_cache: TTLCache | None = None
_cache_seconds: float | None = None


def _store() -> TTLCache | None:
    global _cache, _cache_seconds
    seconds = settings.PRINCIPAL_CACHE_SECONDS
    if seconds <= 0:
        return None
    if _cache is None or _cache_seconds != seconds:
        _cache, _cache_seconds = TTLCache(maxsize=MAX_ENTRIES, ttl=seconds, timer=time.monotonic), seconds
    return _cache


def _key(raw_token: str) -> bytes:
    return hmac.digest(_KEY, raw_token.encode("utf-8", "surrogatepass"), hashlib.sha256)


def _still_valid(identity: BearerIdentity) -> bool:
    if identity.personal_token is not None:
        return not identity.personal_token.is_expired
    if identity.jwt is not None:
        return identity.jwt["exp"] > timezone.now().timestamp()
    if identity.oauth_token is not None:
        return not identity.oauth_token.is_expired()
    return False


def _row_copy(row: Any) -> Any:
    """copy.copy of a model instance (what Model.__getstate__ gives pickle: its attributes, its own
    ModelState and related-object cache), without the pickle protocol's reduce and reconstruct steps,
    which made this copy most of a cached token's cost."""
    twin = row.__class__.__new__(row.__class__)
    attributes = row.__dict__.copy()
    state = attributes.get("_state")
    if state is not None:
        state_twin = state.__class__.__new__(state.__class__)
        state_twin.__dict__.update(state.__dict__)
        if "fields_cache" in state.__dict__:
            state_twin.fields_cache = state.fields_cache.copy()
        attributes["_state"] = state_twin
    twin.__dict__.update(attributes)
    return twin


def _copy(identity: BearerIdentity) -> BearerIdentity:
    user = _row_copy(identity.user)
    token = identity.personal_token
    if token is not None:
        token = _row_copy(token)
        token.user = user
    oauth_token = identity.oauth_token
    if oauth_token is not None:
        oauth_token = _row_copy(oauth_token)
        oauth_token.user = user
    # Built directly: dataclasses.replace() looks the fields up again on every call.
    return BearerIdentity(user=user, personal_token=token, jwt=identity.jwt, oauth_token=oauth_token)


def principal_cache_get(raw_token: str) -> BearerIdentity | None:
    """The identity verified for this exact token within the last PRINCIPAL_CACHE_SECONDS, or None.

    No database or network work: safe on the event loop.
    """
    with _lock:
        store = _store()
        if store is None:
            return None
        key = _key(raw_token)
        identity = store.get(key)
        if identity is not None and not _still_valid(identity):
            store.pop(key, None)
            identity = None
    return _copy(identity) if identity is not None else None


def principal_cache_put(raw_token: str, identity: BearerIdentity) -> None:
    with _lock:
        store = _store()
        if store is not None:
            store[_key(raw_token)] = _copy(identity)


def principal_cache_clear(**_signal_kwargs: Any) -> None:
    """Forget every cached identity in this process (a credential or role changed somewhere)."""
    with _lock:
        if _cache is not None:
            _cache.clear()


def principal_cache_clear_on_commit() -> None:
    """Forget now, and again once the surrounding transaction commits.

    A request in another thread between the two could otherwise cache a credential row that is
    about to be revoked, as it still reads before the commit, and keep using it for the cache's bound.
    """
    principal_cache_clear()
    transaction.on_commit(principal_cache_clear)
