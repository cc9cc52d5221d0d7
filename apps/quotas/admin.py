import datetime as dt

from django.contrib import admin
from django.db.models import Count, F, Sum
from django.utils import timezone

from apps.core.money import money_format
from apps.quotas.budgets import period_start
from apps.quotas.models import (
    Budget,
    BudgetSpend,
    ModelPrice,
    Notification,
    RoleRateLimit,
    UsageRecord,
    UserRateLimit,
)
from apps.quotas.sources import tool_source


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
        return super().changelist_view(request, extra_context={**(extra_context or {}), **top_users()})


REFUSAL_CODES = ("rate_limited", "budget_exceeded")
TOP_USERS = 10


def top_users() -> dict:
    start = period_start("month", timezone.now())
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    by_cost = (
        UsageRecord.objects.filter(created_at__gte=since)
        .values("user__username")
        .annotate(calls=Count("id"), tokens=Sum(F("input_tokens") + F("output_tokens")), total_cost=Sum("cost"))
        .order_by("-total_cost")[:TOP_USERS]
    )
    refused = tool_source().tool_refusals_by_user(since=since, codes=REFUSAL_CODES, limit=TOP_USERS)
    return {"top_by_cost": list(by_cost), "top_refused": refused}


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
