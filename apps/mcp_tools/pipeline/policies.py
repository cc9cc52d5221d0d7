"""Tool policies: the admin-editable half of authorisation.

Tool calls read them from a copy in this process (`policy_table`) kept with the shared version it was
loaded under; the limits' one Redis round trip checks that version (apps.core.limiter.Guard), so
the copy costs no round trip of its own. Any save or delete of a ToolPolicy deletes the shared cache
entry and publishes a new version, before and after commit, so an operator's change applies to the
very next call on every replica. Other readers (tools/list, the REST tool list) read the shared
cache entry (Redis in production) as before.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.roles import ROLE_MISSING_CODE, ROLE_MISSING_MESSAGE
from apps.accounts.scopes import user_roles
from apps.audit.services import audit_event_record
from apps.core.errors import DomainError, Forbidden, InvalidInput
from apps.core.limiter import Guard, limiter_shared, shared_version, shared_version_bump
from apps.mcp_tools.models import ToolPolicy
from apps.mcp_tools.pipeline.cache import CACHE_ERRORS
from apps.mcp_tools.pipeline.registry import ToolSpec, tools_registered

if TYPE_CHECKING:
    from apps.accounts.principal import Principal

logger = logging.getLogger(__name__)

POLICIES_CACHE_KEY = "mcp:policies:v1"
POLICIES_VERSION = "mcp-policies"
POLICY_FIELDS = ("enabled", "allowed_roles", "required_scope", "cacheable", "cache_ttl_seconds", "rate_limit")


@dataclass(frozen=True)
class PolicySnapshot:
    """What the pipeline needs from a ToolPolicy row, small enough to cache."""

    tool_name: str
    enabled: bool
    allowed_roles: frozenset[str]
    required_scope: str
    cacheable: bool
    cache_ttl_seconds: int | None
    rate_limit: str

    @classmethod
    def from_row(cls, row: ToolPolicy) -> PolicySnapshot:
        return cls(
            tool_name=row.tool_name,
            enabled=row.enabled,
            allowed_roles=frozenset(row.allowed_roles or ()),
            required_scope=row.required_scope,
            cacheable=row.cacheable,
            cache_ttl_seconds=row.cache_ttl_seconds,
            rate_limit=row.rate_limit,
        )


def policy_defaults(spec: ToolSpec) -> dict[str, Any]:
    return {
        "enabled": True,
        "allowed_roles": sorted(spec.default_roles),
        "required_scope": spec.required_scope,
        "cacheable": spec.default_cacheable,
        "cache_ttl_seconds": spec.default_cache_ttl,
        "rate_limit": "",
    }


def policies_invalidate() -> None:
    global _table
    _table = None
    try:
        cache.delete(POLICIES_CACHE_KEY)
    except CACHE_ERRORS:
        logger.error("Could not invalidate the cached tool policies; they expire within MCP_POLICY_CACHE_SECONDS.")
    if limiter_shared() and not shared_version_bump(POLICIES_VERSION):
        logger.error("Other processes keep their copy of the tool policies for up to MCP_POLICY_CACHE_SECONDS.")


@receiver(post_save, sender=ToolPolicy, dispatch_uid="mcp_tools.policy_saved")
@receiver(post_delete, sender=ToolPolicy, dispatch_uid="mcp_tools.policy_deleted")
def _policy_changed(sender: Any, **kwargs: Any) -> None:
    policies_invalidate()
    # Also after commit: a reader between the delete and the commit may have re-cached the old row.
    transaction.on_commit(policies_invalidate)


def policies_ensure() -> int:
    """Create the missing policy rows for registered tools; returns how many were created."""
    existing = set(ToolPolicy.objects.values_list("tool_name", flat=True))
    created = 0
    for spec in tools_registered():
        if spec.name not in existing:
            _, was_created = ToolPolicy.objects.get_or_create(tool_name=spec.name, defaults=policy_defaults(spec))
            created += int(was_created)
    return created


def _policies_load() -> dict[str, PolicySnapshot]:
    if not settings.MCP_POLICY_CACHE_SECONDS:
        return _policies_from_db()
    try:
        snapshots = cache.get(POLICIES_CACHE_KEY)
    except CACHE_ERRORS:
        return _policies_from_db()  # the table is the truth; the cache only saves a query
    if snapshots is None:
        snapshots = _policies_from_db()
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(POLICIES_CACHE_KEY, snapshots, settings.MCP_POLICY_CACHE_SECONDS)
    return snapshots


def _policies_from_db() -> dict[str, PolicySnapshot]:
    return {row.tool_name: PolicySnapshot.from_row(row) for row in ToolPolicy.objects.all()}


@dataclass(frozen=True)
class PolicyTable:
    """Every tool's policy as one process holds it, and the shared version it was loaded under."""

    by_name: dict[str, PolicySnapshot]
    guard: Guard | None  # None: read for this call only, nothing to check
    loaded_at: float = field(default_factory=time.monotonic)

    def policy(self, spec: ToolSpec) -> PolicySnapshot:
        return self.by_name.get(spec.name) or policy_for(spec)


_table: PolicyTable | None = None


def policies_forget() -> None:
    """Drop this process's copy (tests, whose rolled-back rows never announce themselves)."""
    global _table
    _table = None


def _versioned() -> bool:
    # The version is checked in the limits' round trip: without shared, enforced limits there is none.
    return bool(settings.MCP_POLICY_CACHE_SECONDS and settings.QUOTA_RATE_LIMITS and limiter_shared())


def policy_table(stale_version: str | None = None, *, unguarded: bool = False) -> PolicyTable:
    """The tool policies for one call; `stale_version` is the version the limits reported instead of ours.

    The copy is kept at most MCP_POLICY_CACHE_SECONDS even when no change was announced (a change
    made while Redis was unreachable could not announce itself). `unguarded`: the rows as they are
    now, for this call only.
    """
    global _table
    if unguarded:
        return PolicyTable(by_name=_policies_from_db(), guard=None)
    table = _table
    fresh = table is not None and time.monotonic() - table.loaded_at < settings.MCP_POLICY_CACHE_SECONDS
    if stale_version is None and fresh:
        return table
    if not _versioned():
        return PolicyTable(by_name=_policies_load(), guard=None)
    # The version first, then the rows: rows read after it are at least as new as it says.
    version = stale_version or shared_version(POLICIES_VERSION)
    if version is None:
        return PolicyTable(by_name=_policies_from_db(), guard=None)
    table = PolicyTable(by_name=_policies_from_db(), guard=Guard(POLICIES_VERSION, version))
    _table = table
    return table


def policies_current() -> dict[str, PolicySnapshot]:
    """Every registered tool's policy in one read (tools/list needs them all)."""
    snapshots = _policies_load()
    return {spec.name: snapshots.get(spec.name) or policy_for(spec) for spec in tools_registered()}


def policy_for(spec: ToolSpec) -> PolicySnapshot:
    snapshot = _policies_load().get(spec.name)
    if snapshot is None:
        # A tool registered after the last migrate: its row appears on first use.
        row, _ = ToolPolicy.objects.get_or_create(tool_name=spec.name, defaults=policy_defaults(spec))
        policies_invalidate()
        snapshot = PolicySnapshot.from_row(row)
    return snapshot


def policy_allows(*, spec: ToolSpec, principal: Principal, policy: PolicySnapshot | None = None) -> DomainError | None:
    """None when the principal may call the tool now, else the error that says why not."""
    policy = policy or policy_for(spec)
    if not policy.enabled:
        return Forbidden(f"The tool {spec.name!r} is turned off.", code="tool_disabled")
    if not principal.user.is_superuser and not (user_roles(principal.user) & policy.allowed_roles):
        if not user_roles(principal.user):
            return Forbidden(ROLE_MISSING_MESSAGE, code=ROLE_MISSING_CODE)
        return Forbidden(f"Your role may not call {spec.name!r}.", code="role_not_allowed")
    if policy.required_scope not in principal.scopes:
        return Forbidden(
            f"Calling {spec.name!r} needs the {policy.required_scope!r} scope.",
            code="insufficient_scope",
            details={"required_scope": policy.required_scope},
        )
    return None


@transaction.atomic
def tool_policy_update(*, policy: ToolPolicy, actor: Any, changes: dict[str, Any]) -> ToolPolicy:
    """The one way an operator changes a policy (the admin calls this); audited with before and after."""
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise InvalidInput("Some fields cannot be changed.", details={name: ["Unknown field."] for name in unknown})
    before = {name: getattr(policy, name) for name in changes}
    for name, value in changes.items():
        setattr(policy, name, value)
    try:
        policy.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The policy is invalid.", details=exc.message_dict) from None
    policy.save()
    changed = {name: {"from": before[name], "to": value} for name, value in changes.items() if before[name] != value}
    if changed:
        audit_event_record(
            action="tool_policy.changed",
            actor=actor,
            target_type="tool_policy",
            target_id=policy.tool_name,
            data={"changes": changed},
        )
    return policy


def tools_available(*, principal: Principal) -> list[ToolSpec]:
    """Only what this caller may call now, with the admin's policies applied."""
    policies = policies_current()
    return [
        spec
        for spec in tools_registered()
        if policy_allows(spec=spec, principal=principal, policy=policies.get(spec.name)) is None
    ]
