import datetime as dt

from django.contrib import admin
from django.db.models import Count, F, Sum
from django.utils import timezone

from apps.core.aggregates import DecimalSum
from apps.quotas.budgets import period_start
from apps.quotas.models import Budget, ModelPrice, Notification, RoleRateLimit, UsageRecord, UserRateLimit
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
    list_display = ("provider", "model", "input_per_million", "output_per_million", "effective_from", "note")
    list_filter = ("provider",)
    search_fields = ("model",)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Read-only: the ledger is written by the provider call path, never edited."""

    list_display = ("created_at", "user", "provider", "model", "cost", "cached", "outcome")
    list_filter = ("provider", "door", "cached", "outcome")
    search_fields = ("user__username", "model")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

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
        .annotate(calls=Count("id"), tokens=Sum(F("input_tokens") + F("output_tokens")), total_cost=DecimalSum("cost"))
        .order_by("-total_cost")[:TOP_USERS]
    )
    refused = tool_source().tool_refusals_by_user(since=since, codes=REFUSAL_CODES, limit=TOP_USERS)
    return {"top_by_cost": list(by_cost), "top_refused": refused}


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("role", "user", "provider", "period", "measure", "amount", "hard")
    list_filter = ("role", "period", "measure", "hard")
    search_fields = ("user__username", "provider")
    raw_id_fields = ("user",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "message", "read_at")
    list_filter = ("kind",)
    search_fields = ("user__username",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
