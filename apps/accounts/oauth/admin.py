"""OAuth clients in the admin (the toolkit's ApplicationAdmin, named by APPLICATION_ADMIN_CLASS): operators
see every client with where it came from, and disable, enable or delete it. Disabling revokes its tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from oauth2_provider.admin import ApplicationAdmin

from apps.accounts.models import OAuthClientBlock
from apps.accounts.oauth.connections import oauth_client_block, oauth_client_unblock
from apps.accounts.oauth.events import client_host


class OAuthClientAdmin(ApplicationAdmin):
    list_display = ("name", "client_id", "registration_source", "comes_from", "created", "disabled")
    list_filter = ("registration_source", "client_type")
    search_fields = ("name", "client_id")
    actions = ("disable_clients", "enable_clients")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        blocked = OAuthClientBlock.objects.filter(application=OuterRef("pk"))
        return super().get_queryset(request).annotate(is_blocked=Exists(blocked))

    @admin.display(description="Comes from")
    def comes_from(self, obj: Any) -> str:
        return client_host(obj)

    @admin.display(boolean=True, description="Disabled")
    def disabled(self, obj: Any) -> bool:
        return bool(getattr(obj, "is_blocked", False))

    @admin.action(description="Disable the selected clients (no sign-in, tokens revoked)", permissions=["change"])
    def disable_clients(self, request: HttpRequest, queryset: QuerySet) -> None:
        for application in queryset:
            oauth_client_block(application=application, actor=request.user)
        messages.success(request, f"{queryset.count()} client(s) disabled; their tokens are revoked.")

    @admin.action(description="Enable the selected clients", permissions=["change"])
    def enable_clients(self, request: HttpRequest, queryset: QuerySet) -> None:
        for application in queryset:
            oauth_client_unblock(application=application, actor=request.user)
        messages.success(request, f"{queryset.count()} client(s) enabled.")
