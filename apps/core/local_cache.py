"""A bounded in-process TTL cache (cachetools), the first level in front of a shared Redis entry.

Sized by two settings, read again on every use, so a changed setting (a test's override) starts it
over. Thread-safe: several request threads of one process share it.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache
from django.conf import settings


class LocalTTLCache:
    def __init__(self, size_setting: str, seconds_setting: str) -> None:
        self._settings = (size_setting, seconds_setting)
        self._lock = threading.Lock()
        self._entries: TTLCache | None = None
        self._shape: tuple[int, int] | None = None

    def _cache(self) -> TTLCache | None:
        shape = (getattr(settings, self._settings[0]), getattr(settings, self._settings[1]))
        if self._shape != shape:
            # A size of 0 turns this level off.
            self._entries = TTLCache(maxsize=shape[0], ttl=shape[1]) if shape[0] else None
            self._shape = shape
        return self._entries

    def get(self, key: str, *, rearm: bool = False) -> Any | None:
        """The entry, or None; `rearm` re-inserts a hit so its TTL starts again (hot entries stay)."""
        with self._lock:
            entries = self._cache()
            entry = entries.get(key) if entries is not None else None
            if rearm and entry is not None:
                entries[key] = entry
            return entry

    def set(self, key: str, entry: Any) -> None:
        with self._lock:
            entries = self._cache()
            if entries is not None:
                entries[key] = entry

    def clear(self) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.clear()
