from __future__ import annotations

from django.conf import settings
from django.db import models


class SetupStep(models.Model):
    """One step of the guided setup that a user has completed, kept so operators can see where people stop.

    A row per (user, step), written the first time the step is done; never updated afterwards, so
    `completed_at` is when the user first got there.
    """

    class Step(models.TextChoices):
        KEY_ADDED = "key_added", "Add a provider key"
        KEY_VALIDATED = "key_validated", "See the key validated"
        PROVIDER_ORDER = "provider_order", "Choose the provider order"
        TOKEN_CREATED = "token_created", "Create an MCP access token"
        CLIENT_CONFIGURED = "client_configured", "Copy a client configuration"
        TOOL_TRIED = "tool_tried", "Try a tool"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="setup_steps")
    step = models.CharField(max_length=32, choices=Step.choices)
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "completed_at"]
        constraints = [models.UniqueConstraint(fields=["user", "step"], name="setup_step_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.step}"
