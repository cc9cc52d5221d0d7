"""Roles are Django groups with a fixed set of permissions.

`user` works with its own data through the API and MCP; `operator` runs the service from the
admin (is_staff); `auditor` reads the audit trail and nothing else (is_staff, view-only).
Apps add their permissions to ROLE_PERMISSIONS; groups are brought in line after every migrate.
Every new account gets the `user` role however it is made (sign-up, the admin, createsuperuser,
create_user in a shell) unless another one is chosen.

Operators manage ordinary accounts only (see user_manageable_by); staff and superuser accounts,
and the operator and superuser powers themselves, are a superuser's.
"""

from __future__ import annotations

from typing import Any

ROLE_USER = "user"
ROLE_OPERATOR = "operator"
ROLE_AUDITOR = "auditor"
ROLES = (ROLE_USER, ROLE_OPERATOR, ROLE_AUDITOR)
STAFF_ROLES = {ROLE_OPERATOR, ROLE_AUDITOR}
DEFAULT_ROLE = ROLE_USER
# An operator may give these; operator (and superuser status) only a superuser.
ROLES_OPERATORS_GRANT = (ROLE_USER, ROLE_AUDITOR)

ROLE_MISSING_CODE = "role_missing"
ROLE_MISSING_MESSAGE = (
    f"This account has no role, so it may not do anything yet. An operator or a superuser can give it "
    f"the {ROLE_USER!r} role in the admin (Users, then the account's Role)."
)

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
        "accounts.add_user",  # the admin's add form for operators has no password or staff fields
        "accounts.change_user",  # ordinary accounts only: UserAdmin asks user_manageable_by
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
        # OAuth clients: see, disable (an admin action needing change) and delete.
        "oauth2_provider.view_application",
        "oauth2_provider.change_application",
        "oauth2_provider.delete_application",
        "mcp_tools.view_toolpolicy",
        "mcp_tools.change_toolpolicy",
        "mcp_tools.view_toolcall",
        "providers.view_providercircuit",
        "providers.reset_providercircuit",
        "providers.view_aipreference",
        "quotas.view_roleratelimit",
        "quotas.add_roleratelimit",
        "quotas.change_roleratelimit",
        "quotas.delete_roleratelimit",
        "quotas.view_userratelimit",
        "quotas.add_userratelimit",
        "quotas.change_userratelimit",
        "quotas.delete_userratelimit",
        "quotas.view_modelprice",
        "quotas.add_modelprice",
        "quotas.change_modelprice",
        "quotas.view_usagerecord",
        "quotas.view_budgetspend",
        "quotas.view_budget",
        "quotas.add_budget",
        "quotas.change_budget",
        "quotas.delete_budget",
    },
    ROLE_AUDITOR: {
        "accounts.view_user",
        "audit.view_auditevent",
    },
}


def roles_grantable_by(actor: Any) -> tuple[str, ...]:
    """The roles `actor` may give to an account."""
    if getattr(actor, "is_superuser", False):
        return ROLES
    if ROLE_OPERATOR in getattr(actor, "roles", ()):
        return ROLES_OPERATORS_GRANT
    return ()


def user_manageable_by(*, actor: Any, user: Any) -> bool:
    """Whether `actor` may change `user`'s account (role, email, time zone, active, password reset).

    Superusers manage everyone. Operators manage ordinary accounts: holding only roles an operator
    can give (user, auditor), not a superuser, not staff beyond the auditor role, and never their
    own (so no operator raises itself). Auditors count as ordinary: they can change nothing, and
    an operator who can give the role must be able to take it back.
    """
    if getattr(actor, "is_superuser", False):
        return True
    if ROLE_OPERATOR not in getattr(actor, "roles", ()):
        return False
    if user.pk == actor.pk or user.is_superuser:
        return False
    roles = set(user.roles)
    if not roles <= set(ROLES_OPERATORS_GRANT):
        return False
    return not user.is_staff or roles == {ROLE_AUDITOR}


def user_default_role_assign(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """post_save: a new account without a role gets DEFAULT_ROLE (a chosen role replaces it later)."""
    if not created or raw:
        return
    from django.contrib.auth.models import Group

    group = Group.objects.filter(name=DEFAULT_ROLE).first()
    if group is None:
        roles_sync()
        group = Group.objects.get(name=DEFAULT_ROLE)
    instance.groups.add(group)
    instance.__dict__.pop("_roles_memo", None)  # see scopes.user_roles


def roles_sync() -> None:
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    # Every wanted permission in one query (one per permission made migrate and every test flush slow).
    dotted_all = set().union(*ROLE_PERMISSIONS.values())
    wanted_q = Q(pk__in=[])
    for dotted in dotted_all:
        app_label, codename = dotted.split(".", 1)
        wanted_q |= Q(content_type__app_label=app_label, codename=codename)
    found = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.filter(wanted_q).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([found[dotted] for dotted in sorted(wanted) if dotted in found])


def roles_backfill() -> int:
    """Give the default role to accounts that have none (made before every new account got one).

    Without a role every request is refused; an account an operator has not yet looked at should
    behave like one made today. Returns how many accounts were given the role.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    default = Group.objects.get(name=DEFAULT_ROLE)
    roleless = get_user_model().objects.exclude(groups__name__in=list(ROLES)).distinct()
    count = 0
    for user in roleless.iterator():
        user.groups.add(default)
        count += 1
    return count


def on_post_migrate(sender: Any, **kwargs: Any) -> None:
    # Django sends post_migrate once per app (after migrate and after every flush, which a
    # transactional test runs); only the last one sees every app's permissions, so sync then.
    from django.apps import apps

    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender is not last:
        return
    roles_sync()
    roles_backfill()
