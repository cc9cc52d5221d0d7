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


class ModelPrice(models.Model):
    """What a provider charges for a model, in US dollars per million tokens.

    A row applies from `effective_from` until a later row for the same provider and model takes over,
    so a price change is a new row and past calls keep the cost they were charged.
    """

    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    input_per_million = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    output_per_million = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    effective_from = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True, help_text="Where the price comes from.")

    class Meta:
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "effective_from"], name="model_price_unique_start")
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.effective_from:%Y-%m-%d}"


class UsageRecord(models.Model):
    """One provider call in the usage ledger: who, by which door, which model, tokens, cost and outcome.

    The cost is computed from the price table when the call is recorded and stored, so later price
    changes do not rewrite history. A cached answer costs nothing. `price` is empty when no price was
    known for the model at the time (the cost is then 0 and the row says so).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    token_id = models.BigIntegerField(null=True, blank=True, help_text="The personal access token, if one was used.")
    door = models.CharField(max_length=20, help_text="rest, mcp, stdio, chat, ...")
    tool_name = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    price = models.ForeignKey(ModelPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    latency_ms = models.FloatField(default=0)
    cached = models.BooleanField(default=False)
    outcome = models.CharField(max_length=50, help_text="ok, or the error code.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["provider", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.provider}/{self.model} {self.outcome}"
