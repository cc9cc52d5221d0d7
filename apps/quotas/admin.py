from django.contrib import admin

from apps.quotas.models import RoleRateLimit, UserRateLimit


@admin.register(RoleRateLimit)
class RoleRateLimitAdmin(admin.ModelAdmin):
    list_display = ("role", "rate", "burst", "updated_at")


@admin.register(UserRateLimit)
class UserRateLimitAdmin(admin.ModelAdmin):
    list_display = ("user", "rate", "burst", "reason", "updated_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
