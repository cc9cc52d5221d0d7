"""Reads of the provider app's rows for other apps: saved preferences, the recorded circuits."""

from __future__ import annotations

from typing import Any

from apps.providers.models import AIPreference, ProviderCircuit


def ai_preferences_saved(*, user: Any) -> bool:
    """Whether the user has saved a provider order or models (else the defaults apply)."""
    return AIPreference.objects.filter(user=user).exists()


def circuits_list(*, limit: int) -> list[ProviderCircuit]:
    """The circuits (provider, base URL) the breaker has recorded, in a stable order."""
    return list(ProviderCircuit.objects.order_by("provider", "base_url")[:limit])
