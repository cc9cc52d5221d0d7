from django.contrib import admin

from apps.quotas.ledger_reads import usage_top_users
from apps.quotas.models import Budget, ModelPrice, Notification, RoleRateLimit, UsageRecord, UserRateLimit


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
        return super().changelist_view(request, extra_context={**(extra_context or {}), **usage_top_users()})


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
