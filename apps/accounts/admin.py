from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role_names", "is_staff", "is_active", "last_login"]
    list_filter = ["groups", "is_staff", "is_active"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("Preferences", {"fields": ("timezone",)}))

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_names(self, obj: User) -> str:
        return ", ".join(obj.roles) or "-"
