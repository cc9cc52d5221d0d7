from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.services import pat_revoke


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


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    """Operators can see and revoke tokens; the digest is never shown and tokens are created by their owners."""

    list_display = ["name", "user", "prefix", "scope_list", "status", "expires_at", "last_used_at", "created_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "user__username", "lookup_id"]
    list_select_related = ["user"]
    fields = ["name", "user", "prefix", "scopes", "status", "expires_at", "last_used_at", "revoked_at", "created_at"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row is evidence for the audit trail

    @admin.display(description="scopes")
    def scope_list(self, obj: PersonalAccessToken) -> str:
        return ", ".join(obj.scopes) or "-"

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            pat_revoke(token=token, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", level=messages.SUCCESS)
