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


class Budget(models.Model):
    """A token or cost budget per day or month, for every account with a role (a default) or one account.

    An account's own budget replaces its role's for the same provider, period and measure. An empty
    provider means all providers together. Hard budgets refuse calls past the amount; soft ones warn.
    Periods are calendar days and months in UTC.
    """

    PERIODS = [("day", "day"), ("month", "month")]
    MEASURES = [("tokens", "tokens"), ("cost", "cost (USD)")]

    role = models.CharField(max_length=30, blank=True, choices=[(role, role) for role in ROLES])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    provider = models.CharField(max_length=40, blank=True, help_text="Empty: all providers together.")
    period = models.CharField(max_length=10, choices=PERIODS)
    measure = models.CharField(max_length=10, choices=MEASURES)
    amount = models.DecimalField(max_digits=16, decimal_places=4, validators=[MinValueValidator(0)])
    hard = models.BooleanField(default=True, help_text="Hard: refuse past the amount. Soft: warn only.")

    class Meta:
        ordering = ["role", "user_id", "provider", "period", "measure"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(role="") & models.Q(user__isnull=False))
                | (~models.Q(role="") & models.Q(user__isnull=True)),
                name="budget_for_a_role_or_a_user",
            )
        ]

    def __str__(self) -> str:
        whom = self.role or str(self.user)
        return f"{whom}: {self.amount} {self.measure}/{self.period} {self.provider or 'all providers'}"


class BudgetSpend(models.Model):
    """What one account has spent, and has reserved for calls in progress, in one period (overall or one provider).

    `tokens` and `cost` are the usage ledger's sums for the period, kept for every provider call whether
    a budget applies or not, so a budget created mid-period starts from what was already spent. The
    `reserved_*` figures are calls admitted and not yet recorded. The row budget_reserve locks, so
    parallel calls are checked one after another and cannot overspend; budget_spend_reconcile checks
    it against the ledger.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=40, blank=True)
    period = models.CharField(max_length=10)
    period_start = models.DateField()
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    reserved_tokens = models.BigIntegerField(default=0)
    reserved_cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "provider", "period", "period_start"], name="budget_spend_one_row_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.provider or 'all'} {self.period} {self.period_start}: {self.tokens} tokens"


class Notification(models.Model):
    """A message for one account, shown in the settings pages and by GET /api/notifications.

    `dedup_key` makes "once per period, user and limit" hold across restarts and processes: a second
    warning with the same key is never stored (nor emailed).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "dedup_key"], name="notification_once_per_key")]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind}"
