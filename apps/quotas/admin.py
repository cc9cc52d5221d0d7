from django.contrib import admin

from apps.core.money import money_format
from apps.quotas.ledger_reads import usage_top_users
from apps.quotas.models import (
    Budget,
    BudgetSpend,
    ModelPrice,
    Notification,
    RoleRateLimit,
    UsageRecord,
    UserRateLimit,
)


@admin.register(RoleRateLimit)
class RoleRateLimitAdmin(admin.ModelAdmin):
    list_display = ("role", "rate", "burst", "updated_at")


@admin.register(UserRateLimit)
class UserRateLimitAdmin(admin.ModelAdmin):
    list_display = ("user", "rate", "burst", "reason", "updated_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("provider", "model", "input_price", "output_price", "effective_from", "note")
    list_filter = ("provider",)
    search_fields = ("model",)

    @admin.display(description="input per million tokens", ordering="input_per_million")
    def input_price(self, obj: ModelPrice) -> str:
        return money_format(obj.input_per_million)

    @admin.display(description="output per million tokens", ordering="output_per_million")
    def output_price(self, obj: ModelPrice) -> str:
        return money_format(obj.output_per_million)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the app writes and nobody edits: shown, never added, changed or deleted in the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    """Read-only: the ledger is written by the provider call path, never edited."""

    list_display = ("created_at", "user", "provider", "model", "cost_usd", "cached", "outcome")
    list_filter = ("provider", "door", "cached", "outcome")
    search_fields = ("user__username", "model")
    date_hierarchy = "created_at"
    # The detail page too shows the cost as money, not as the stored Decimal.
    exclude = ("cost",)
    readonly_fields = ("cost_usd",)

    @admin.display(description="cost", ordering="cost")
    def cost_usd(self, obj: UsageRecord) -> str:
        return money_format(obj.cost)

    def changelist_view(self, request, extra_context=None):
        """Above the ledger: this month's top users by cost and by refused calls."""
        return super().changelist_view(request, extra_context={**(extra_context or {}), **usage_top_users()})


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("role", "user", "provider", "period", "measure", "limit", "hard")
    list_filter = ("role", "period", "measure", "hard")
    search_fields = ("user__username", "provider")
    raw_id_fields = ("user",)

    @admin.display(description="amount", ordering="amount")
    def limit(self, obj: Budget) -> str:
        if obj.measure == "cost":
            return money_format(obj.amount)
        return f"{obj.amount.normalize():,f} tokens"


@admin.register(BudgetSpend)
class BudgetSpendAdmin(ReadOnlyAdmin):
    """Read-only: each account's spend per period, the figure its budgets, warnings and usage page use.

    Written by every provider call and set to the ledger's figure by the reconciliation job.
    """

    list_display = ("user", "scope", "period", "period_start", "spent", "reserved")
    list_filter = ("period", "provider")
    search_fields = ("user__username",)
    date_hierarchy = "period_start"
    ordering = ("-period_start", "user__username", "provider", "period")

    @admin.display(description="provider", ordering="provider")
    def scope(self, obj: BudgetSpend) -> str:
        return obj.provider or "all providers"

    # Tokens and cost side by side in one column each: the list keeps to the width an operator's window shows.
    @admin.display(description="spent", ordering="cost")
    def spent(self, obj: BudgetSpend) -> str:
        return f"{money_format(obj.cost)} · {obj.tokens:,} tokens"

    @admin.display(description="reserved", ordering="reserved_cost")
    def reserved(self, obj: BudgetSpend) -> str:
        return f"{money_format(obj.reserved_cost)} · {obj.reserved_tokens:,} tokens"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "message", "read_at")
    list_filter = ("kind",)
    search_fields = ("user__username",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
