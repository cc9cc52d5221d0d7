"""The scope catalogue: what a personal access token may be allowed to do, and who may hold what.

A JWT or a browser session carries every scope the user's roles allow. A personal access token
carries the scopes chosen at creation, intersected with what the user's roles allow *now*, so a
demoted user's old tokens lose power with the role.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from apps.accounts.roles import ROLE_AUDITOR, ROLE_OPERATOR, ROLE_USER, ROLES

TODOS_READ = "todos:read"
TODOS_WRITE = "todos:write"
AI_INVOKE = "ai:invoke"
PROFILE_READ = "profile:read"

SCOPES: dict[str, str] = {
    TODOS_READ: "Read your todos, tags and overview.",
    TODOS_WRITE: "Create, change, complete and delete your todos.",
    AI_INVOKE: "Call AI providers with your stored provider keys.",
    PROFILE_READ: "Read your profile: user name, roles, time zone, stored providers (masked).",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    ROLE_USER: frozenset({TODOS_READ, TODOS_WRITE, AI_INVOKE, PROFILE_READ}),
    # Operators are users too: they keep their own todos and provider keys.
    ROLE_OPERATOR: frozenset({TODOS_READ, TODOS_WRITE, AI_INVOKE, PROFILE_READ}),
    # Auditors read the audit trail in the admin; through tokens they can only see who they are.
    ROLE_AUDITOR: frozenset({PROFILE_READ}),
}


def user_roles(user: Any) -> frozenset[str]:
    """The user's roles, read once per user object (a request or a tool call loads the user afresh)."""
    roles = getattr(user, "_roles_memo", None)
    if roles is None:
        roles = frozenset(user.roles)
        user._roles_memo = roles
    return roles


def role_annotations(user_field: str) -> dict[str, Exists]:
    """One EXISTS per role, to annotate a query that loads a user (`user_field` names its id), so the
    roles arrive in the same round trip instead of a second query (see `user_roles_from_annotations`)."""
    from django.contrib.auth.models import Group

    return {f"has_role_{role}": Exists(Group.objects.filter(user=OuterRef(user_field), name=role)) for role in ROLES}


def user_roles_from_annotations(user: Any, row: Any) -> None:
    """Remember the roles a `role_annotations` query read for `user` (what `user_roles` would query)."""
    user._roles_memo = frozenset(role for role in ROLES if getattr(row, f"has_role_{role}"))


def scopes_for_user(user: Any) -> frozenset[str]:
    """Every scope the user's roles allow; inactive users hold none."""
    if user is None or not getattr(user, "is_active", False):
        return frozenset()
    if user.is_superuser:
        return frozenset(SCOPES)
    allowed: set[str] = set()
    for role in user_roles(user):
        allowed |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(allowed)


def scopes_normalise(scopes: Any) -> list[str]:
    """Sorted, de-duplicated scope names; unknown names raise ValueError naming them."""
    if not isinstance(scopes, list | tuple | set | frozenset):
        raise ValueError("Scopes must be a list of scope names.")
    unknown = sorted(str(scope) for scope in scopes if scope not in SCOPES)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(unknown)}.")
    return sorted(set(scopes))
