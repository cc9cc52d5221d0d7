"""Which request rate applies to an account, and where it comes from: override, role default or setting.

Read on every request, so the answer is kept per process for RATE_CACHE_SECONDS; a save or delete
in this process forgets it at once (other processes see admin changes within that time).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.core.limiter import rate_split
from apps.quotas.models import RoleRateLimit, UserRateLimit

RATE_CACHE_SECONDS = 30


@dataclass(frozen=True)
class EffectiveRate:
    rate: str
    burst: int
    source: str  # "override" | "role <name>" | "setting QUOTA_USER_RATE"


RATE_CACHE_MAX = 10_000
_cache: dict[int, tuple[float, EffectiveRate]] = {}
_lock = threading.Lock()


def user_rate_effective(user) -> EffectiveRate:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(user.pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    rate = _user_rate_from_db(user)
    with _lock:
        if len(_cache) >= RATE_CACHE_MAX:
            _cache.clear()
        _cache[user.pk] = (now + RATE_CACHE_SECONDS, rate)
    return rate


def _user_rate_from_db(user) -> EffectiveRate:
    override = UserRateLimit.objects.filter(user_id=user.pk).first()
    if override is not None:
        return EffectiveRate(rate=override.rate, burst=override.burst, source="override")
    # Roles are group names: one query with a subquery, not one for the groups and one for the rates.
    defaults = list(RoleRateLimit.objects.filter(role__in=user.groups.values("name")))
    if defaults:
        # Several roles: the most generous sustained rate wins.
        best = max(defaults, key=lambda row: (_per_second(row.rate), row.burst))
        return EffectiveRate(rate=best.rate, burst=best.burst, source=f"role {best.role}")
    return EffectiveRate(
        rate=settings.QUOTA_USER_RATE, burst=settings.QUOTA_USER_BURST, source="setting QUOTA_USER_RATE"
    )


def _per_second(rate: str) -> float:
    amount, period = rate_split(rate)
    return amount / period


def rates_forget() -> None:
    with _lock:
        _cache.clear()


@receiver([post_save, post_delete], sender=UserRateLimit)
@receiver([post_save, post_delete], sender=RoleRateLimit)
def _rate_changed(sender, **kwargs) -> None:
    rates_forget()
