"""The one time-zone fallback: a user's zone by name, or UTC when it is unset or unknown."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

UTC_ZONE = ZoneInfo("UTC")


@lru_cache(maxsize=256)
def zone_or_utc(name: str | None) -> ZoneInfo:
    """ZoneInfo(name); UTC for an empty name or one this system's tz database does not know
    (the model validates names on save, but rows can predate a tz database update)."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return UTC_ZONE
