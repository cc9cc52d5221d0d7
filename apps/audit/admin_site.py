"""The admin site: every change made through it lands in the audit trail, and apps have human names.

Django's LogEntry is not the product's audit trail (it is neither append-only nor hash-chained and
nobody reads it). GatewayAdminSite gives every ModelAdmin registered on it, ours and third-party
ones alike, AdminChangeAuditMixin, so an addition, change or deletion by anyone is recorded with
actor, object and the names of the changed fields (never their values).

Loaded from INSTALLED_APPS before models exist: nothing here imports a model at module level.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class AdminChangeAuditMixin:
    """Adds the audit event next to Django's LogEntry for each logged admin change."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        _record(request=request, change="added", obj=obj, message=message)
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        _record(request=request, change="changed", obj=obj, message=message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # Called before the rows go, so each object still has its primary key and name.
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            _record(request=request, change="deleted", obj=obj, message=None)
        return entries


def _record(*, request: HttpRequest, change: str, obj: Any, message: Any) -> None:
    from apps.audit.services import audit_admin_change_record

    audit_admin_change_record(actor=request.user, change=change, obj=obj, change_message=message)


class GatewayAdminSite(admin.AdminSite):
    site_header = "Todo MCP Gateway"
    site_title = "Todo MCP Gateway admin"
    index_title = "Administration"

    def get_urls(self) -> list:
        from django.urls import path

        from apps.audit.admin_report import audit_report_view

        report = self.admin_view(lambda request: audit_report_view(request, site=self))
        return [path("audit/report/", report, name="audit_report"), *super().get_urls()]

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AdminChangeAuditMixin):
            admin_class = type(
                admin_class.__name__,
                (AdminChangeAuditMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)


# Third-party apps under the names operators know them by (the admin shows an app's verbose_name).
# Set here rather than by AppConfig subclasses in INSTALLED_APPS: simplejwt makes its models abstract
# unless "rest_framework_simplejwt.token_blacklist" itself is listed there.
THIRD_PARTY_APP_NAMES = {"axes": "Login lockouts", "token_blacklist": "Refresh tokens"}


class GatewayAdminConfig(AdminConfig):
    default_site = "apps.audit.admin_site.GatewayAdminSite"

    def ready(self) -> None:
        for label, verbose_name in THIRD_PARTY_APP_NAMES.items():
            with contextlib.suppress(LookupError):  # not installed
                apps.get_app_config(label).verbose_name = verbose_name
        super().ready()
