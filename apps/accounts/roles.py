"""Roles are Django groups with a fixed set of permissions.

`user` works with its own data through the API and MCP; `operator` runs the service from the
admin (is_staff); `auditor` reads the audit trail and nothing else (is_staff, view-only).
Apps add their permissions to ROLE_PERMISSIONS; groups are brought in line after every migrate.
"""

from __future__ import annotations

from typing import Any

ROLE_USER = "user"
ROLE_OPERATOR = "operator"
ROLE_AUDITOR = "auditor"
ROLES = (ROLE_USER, ROLE_OPERATOR, ROLE_AUDITOR)
STAFF_ROLES = {ROLE_OPERATOR, ROLE_AUDITOR}

# "app_label.codename"; a permission whose app is not installed is skipped.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_USER: {
        "todos.add_todo",
        "todos.change_todo",
        "todos.delete_todo",
        "todos.view_todo",
    },
    ROLE_OPERATOR: {
        "accounts.view_user",
        "accounts.change_user",
        "todos.view_todo",
        "keys.view_providerkey",
        "keys.change_providerkey",
        "keys.rewrap_providerkey",
        "audit.view_auditevent",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_crontabschedule",
        "django_celery_beat.add_crontabschedule",
        "django_celery_beat.change_crontabschedule",
        "django_celery_beat.view_intervalschedule",
        "token_blacklist.view_outstandingtoken",
        "token_blacklist.view_blacklistedtoken",
        "token_blacklist.add_blacklistedtoken",
        "accounts.view_personalaccesstoken",
        "accounts.change_personalaccesstoken",
        "mcp_tools.view_toolpolicy",
        "mcp_tools.change_toolpolicy",
        "mcp_tools.view_toolcall",
    },
    ROLE_AUDITOR: {
        "accounts.view_user",
        "audit.view_auditevent",
    },
}


def roles_sync() -> None:
    from django.contrib.auth.models import Group, Permission

    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for dotted in sorted(wanted):
            app_label, codename = dotted.split(".", 1)
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                permissions.append(permission)
        group.permissions.set(permissions)


def on_post_migrate(sender: Any, **kwargs: Any) -> None:
    # Runs once per migrated app; only the last pass (after every app's permissions exist) matters,
    # and syncing is idempotent, so running it each time is simplest.
    roles_sync()
