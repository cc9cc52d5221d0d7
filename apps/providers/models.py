from __future__ import annotations

from django.conf import settings
from django.db import models


class ProviderCircuit(models.Model):
    """A circuit breaker the gateway has used: one per provider and base URL.

    The breaker's state lives in Redis (apps.providers.breaker); this row only lets the admin list
    and reset breakers. It never holds a key.
    """

    name = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=32)
    base_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "base_url"]
        permissions = [("reset_providercircuit", "Can reset provider circuit breakers")]

    def __str__(self) -> str:
        return f"{self.provider} {self.base_url}"


class AIPreference(models.Model):
    """A user's choice of providers: the order to try them in and the model to ask of each."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ai_preference")
    provider_order = models.JSONField(default=list, blank=True)
    model_by_provider = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"AI preferences of {self.user_id}"
