from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.accounts.roles import ROLES

MAX_BURST = 1_000_000


def validate_rate(value: str) -> None:
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValidationError("Use a rate such as '120/minute' or '1000 per hour'.") from None


class RoleRateLimit(models.Model):
    """The request rate across all doors for every account with this role, unless the account has an override.

    An account with several roles gets the most generous of its roles' rates.
    """

    role = models.CharField(max_length=30, unique=True, choices=[(role, role) for role in ROLES])
    rate = models.CharField(max_length=50, validators=[validate_rate], help_text="e.g. '120/minute'.")
    burst = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_BURST)],
        help_text="Requests that may come at once before the rate applies.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role"]
        verbose_name = "role rate limit"

    def __str__(self) -> str:
        return f"{self.role}: {self.rate} (burst {self.burst})"


class UserRateLimit(models.Model):
    """An operator's override of one account's request rate across all doors (wins over its role's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rate_limit_override")
    rate = models.CharField(max_length=50, validators=[validate_rate], help_text="e.g. '600/minute'.")
    burst = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_BURST)])
    reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__username"]
        verbose_name = "user rate limit override"

    def __str__(self) -> str:
        return f"{self.user}: {self.rate} (burst {self.burst})"
