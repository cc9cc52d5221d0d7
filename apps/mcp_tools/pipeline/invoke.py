"""THE invocation pipeline: every tool call from every door (REST, MCP over HTTP or stdio, chat) runs here.

authorise (policy, role, scope) -> validate (JSON Schema, size) -> rate limits (apps.quotas) -> cache
-> execute -> record usage (ToolCall) -> audit -> result. Doors only authenticate the caller into a
Principal and translate the InvocationResult into their own wire format.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac

from apps.accounts.principal import Principal
from apps.audit.services import audit_event_build
from apps.core.database import rows_insert
from apps.core.errors import DomainError, Forbidden, NotFound
from apps.core.limit_reports import RateLimitExceeded
from apps.core.limiter import Decision, GuardStale, shared_version
from apps.core.request_context import door_for_transport, request_context
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.pipeline.arguments import arguments_checked
from apps.mcp_tools.pipeline.cache import (
    result_get,
    result_key_or_none,
    result_set,
    version_read_along,
)
from apps.mcp_tools.pipeline.policies import PolicySnapshot, policy_allows, policy_table
from apps.mcp_tools.pipeline.registry import ToolSpec, tool_get
from apps.quotas.services import quota_tool_call_check

logger = logging.getLogger(__name__)

MAX_AUDITED_KEYS = 50
# Refusals before the tool ran are "tool.denied"; everything after is "tool.invoked".
DENIAL_CODES = {
    "unknown_tool",
    "tool_disabled",
    "role_missing",
    "role_not_allowed",
    "insufficient_scope",
    "rate_limited",
    "tool_not_offered",
}
UNKNOWN_TOOL_LABEL = "(unknown)"


@dataclass
class InvocationResult:
    tool_name: str
    success: bool
    result: dict | None  # the tool's output object (MCP structuredContent is exactly this)
    cached: bool
    error: DomainError | None
    duration_ms: float
    invocation_id: str
    # The rate limits this call was counted against (None when it was refused before the check).
    rate_limits: Decision | None = None

    def as_dict(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {"code": self.error.code, "message": self.error.message, "details": self.error.details}
        return {
            "tool_name": self.tool_name,
            "success": self.success,
            "result": self.result,
            "cached": self.cached,
            "duration_ms": self.duration_ms,
            "invocation_id": self.invocation_id,
            "error": error,
        }


def _label(value: str, limit: int) -> str:
    """Client-chosen text (a tool name, an argument name) made safe to store in a usage or audit row."""
    return value[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _unknown_tool_label(tool_name: object) -> str:
    """What usage and audit rows say for a name that is not a registered tool.

    Never the name itself: clients have sent keys and tokens there. A keyed digest prefix lets an
    operator tell repeated names apart without the rows revealing, or confirming a guess of, the text.
    """
    text = tool_name if isinstance(tool_name, str) else repr(tool_name)
    digest = salted_hmac("mcp_tools.unknown_tool_name", text).hexdigest()[:12]
    return f"{UNKNOWN_TOOL_LABEL} {digest}"


def _execute(*, spec: ToolSpec, principal: Principal, arguments: dict[str, Any]) -> dict[str, Any]:
    if spec.own_transactions:
        # An AI tool opens its own short transactions, so none is held while it waits on a provider.
        result = spec.func(principal, **arguments)
    elif spec.open_world and not spec.read_only:
        # Outside tool_invoke's transaction: a batch still happens entirely or not at all.
        with transaction.atomic():
            result = spec.func(principal, **arguments)
    else:
        # A write tool runs inside tool_invoke's transaction: a batch happens with its usage row and
        # audit event, or not at all. A read-only tool runs in autocommit.
        result = spec.func(principal, **arguments)
    if settings.DEBUG and spec.output_schema is not None:
        # Development and tests hold every tool to its published output schema.
        from jsonschema import Draft202012Validator

        Draft202012Validator(spec.output_schema).validate(result)
    return result


def _admitted(*, spec: ToolSpec, principal: Principal, arguments: object) -> tuple[PolicySnapshot, dict, Decision]:
    """Authorise, check the arguments and count the call, deciding with a policy no older than the call.

    The policies come from this process's copy; the limits' round trip checks the copy's version and
    counts nothing if an operator changed a policy since (then the copy is reloaded and the decision
    taken again). A refusal checks the version on its own before it is answered.
    """
    table = policy_table()
    for attempt in range(3):
        if attempt == 2:
            table = policy_table(unguarded=True)  # changing under us: decide from the table itself
        policy = table.policy(spec)
        denial = policy_allows(spec=spec, principal=principal, policy=policy)
        if denial is not None:
            current = shared_version(table.guard.name) if table.guard is not None else None
            if current is not None and current != table.guard.version:
                table = policy_table(current)
                continue
            raise denial
        checked = arguments_checked(spec, arguments)
        # The caller's rate across all doors (an operator acting for a user is counted as the operator)
        # and the subject's per-tool rate, in one round trip; REST invoke is not counted again by DRF.
        # A cacheable call's cache version is read in that round trip too.
        cached = _cached(spec, policy)
        read_along = version_read_along(user_id=principal.user.pk, group=spec.cache_group) if cached else ()
        try:
            decision = quota_tool_call_check(
                caller=principal.operator or principal.user,
                user_id=principal.user.pk,
                tool_name=spec.name,
                policy_rate=policy.rate_limit or None,
                guard=table.guard,
                read_along=read_along,
            )
        except GuardStale as stale:
            table = policy_table(stale.version)
            continue
        if table.guard is not None and not decision.guard_checked:
            # Counted without Redis, so the copy was not checked: the decision stands on the table itself.
            policy = policy_table(unguarded=True).policy(spec)
            denial = policy_allows(spec=spec, principal=principal, policy=policy)
            if denial is not None:
                raise denial
        return policy, checked, decision
    raise AssertionError("unreachable: the third attempt decides without a guard")


def _cached(spec: ToolSpec, policy: PolicySnapshot) -> bool:
    return bool(settings.MCP_RESULT_CACHE and policy.cacheable and spec.read_only)


def _run(*, spec: ToolSpec, principal: Principal, arguments: object) -> tuple[dict[str, Any], bool, Decision]:
    policy, checked, decision = _admitted(spec=spec, principal=principal, arguments=arguments)
    if not _cached(spec, policy):
        return _execute(spec=spec, principal=principal, arguments=checked), False, decision
    # The group's version came with the limits when their Redis is the cache's; else it is read here.
    key = result_key_or_none(
        user_id=principal.user.pk,
        tool_name=spec.name,
        group=spec.cache_group,
        arguments=checked,
        read_along=decision.read_along,
    )
    hit = result_get(key) if key is not None else None
    if hit is not None:
        return hit, True, decision
    result = _execute(spec=spec, principal=principal, arguments=checked)
    if key is not None:
        result_set(key, result, ttl=policy.cache_ttl_seconds or settings.MCP_CACHE_TTL_DEFAULT)
    return result, False, decision


def _argument_keys(arguments: object) -> list[str]:
    if not isinstance(arguments, dict):
        return []
    return sorted(_label(str(key), 64) for key in arguments)[:MAX_AUDITED_KEYS]


def _record(
    *,
    principal: Principal,
    tool_name: str,
    transport: str,
    arguments: object,
    outcome: InvocationResult,
) -> None:
    """The call's usage row and tool event, inserted together in one statement (one round trip).

    A statement is atomic by itself: outside a transaction both rows commit or neither does; inside
    a write tool's transaction they commit or roll back with the tool's changes.
    """
    error_code = outcome.error.code if outcome.error is not None else ""
    call = ToolCall(
        user=principal.user,
        operator=principal.operator,
        tool_name=tool_name,
        transport=transport[:20],
        auth_method=principal.auth_method,
        token_id=principal.token_id,
        success=outcome.success,
        cached=outcome.cached,
        error_code=error_code[:50],
        duration_ms=outcome.duration_ms,
        invocation_id=outcome.invocation_id,
    )
    data: dict[str, Any] = {
        "tool": tool_name,
        "transport": transport,
        "outcome": "ok" if outcome.success else error_code,
        "cached": outcome.cached,
        "argument_keys": _argument_keys(arguments),
        "auth_method": principal.auth_method,
        "invocation_id": outcome.invocation_id,
        "duration_ms": outcome.duration_ms,
    }
    if principal.token_id is not None:
        data["access_token_id"] = principal.token_id
    if principal.oauth_client_id:
        data["oauth_client"] = principal.oauth_client
        data["oauth_client_id"] = principal.oauth_client_id
    if principal.operator is not None:
        data["operator_id"] = principal.operator.pk
        data["subject_user_id"] = principal.user.pk
    denied = error_code in DENIAL_CODES
    # The tool event; a todo the tool changed has its own event, written in the tool's transaction
    # by the todo service, carrying this invocation_id (see docs/audit.md).
    event = audit_event_build(
        action="tool.denied" if denied else "tool.invoked",
        actor=principal.operator or principal.user,
        subject=principal.user,
        token_id=principal.token_id,
        actor_type="oauth" if principal.auth_method == "oauth" else None,
        category="tool",
        outcome="denied" if denied else ("success" if outcome.success else "failure"),
        error_code=error_code,
        target_type="tool",
        target_id=tool_name,
        data=data,
        duration_ms=outcome.duration_ms,
    )
    rows_insert(call, event)


def tool_invoke(
    *,
    principal: Principal,
    tool_name: str,
    arguments: object,
    transport: str,
    offered: Collection[str] | None = None,
) -> InvocationResult:
    """THE pipeline: authorise -> validate -> rate limit -> cache -> execute -> usage -> audit. Sync.

    `offered`: the tool names a model was offered for this turn (the chat loop); any other name is
    refused as `tool_not_offered`, however the caller's role and scopes stand. None: no such limit.
    Tool-level failures come back as success=False with `error`; it raises only on bugs.
    """
    invocation_id = uuid.uuid4().hex
    actor = principal.operator or principal.user
    # Whatever the tool records (a todo change) names this caller, door and invocation.
    with request_context(
        door=door_for_transport(transport),
        actor_id=actor.pk,
        actor_label=actor.username,
        token_id=principal.token_id,
        actor_type="oauth" if principal.auth_method == "oauth" else "",
        invocation_id=invocation_id,
    ):
        return _tool_invoke(
            principal=principal,
            tool_name=tool_name,
            arguments=arguments,
            transport=transport,
            invocation_id=invocation_id,
            offered=offered,
        )


def _tool_invoke(
    *,
    principal: Principal,
    tool_name: str,
    arguments: object,
    transport: str,
    invocation_id: str,
    offered: Collection[str] | None,
) -> InvocationResult:
    started = time.perf_counter()
    name = _label(tool_name if isinstance(tool_name, str) else repr(tool_name), 100)
    spec = tool_get(tool_name)
    # What is stored in the usage and audit rows: the registered name, or a label without the text.
    stored_name = spec.name if spec is not None else _unknown_tool_label(tool_name)
    record = {"principal": principal, "tool_name": stored_name, "transport": transport, "arguments": arguments}
    decision: Decision | None = None
    try:
        if spec is None:
            raise NotFound(f"There is no tool called {name!r}.", code="unknown_tool")
        if offered is not None and spec.name not in offered:
            # A model answers with whatever name it likes (or a prompt injection tells it to): it may
            # run only what it was shown, even where the caller's role and scopes would allow more.
            raise Forbidden(f"The tool {spec.name!r} was not offered here.", code="tool_not_offered")
        # A write tool's changes, its usage row and its audit event share one transaction: they
        # commit together (one commit per call) or, when the tool fails, not at all. Everything else
        # runs in autocommit, with no BEGIN or COMMIT round trips: a read-only tool (or a cached hit)
        # sees the per-statement snapshots READ COMMITTED gives inside a transaction too, and its
        # record is one atomic statement; a tool that waits on the network must hold no transaction.
        in_transaction = not (spec.read_only or spec.open_world or spec.own_transactions)
        with transaction.atomic() if in_transaction else nullcontext():
            result, cached, decision = _run(spec=spec, principal=principal, arguments=arguments)
            # One meaning of `cached` in the envelope (REST, MCP _meta, usage row, audit): served from
            # a cache instead of worked out afresh, by the result cache above or by a cache inside the
            # tool (an AI tool reports an answer from the provider answer cache as result.cached).
            cached = cached or (isinstance(result, dict) and result.get("cached") is True)
            outcome = InvocationResult(
                tool_name=name,
                success=True,
                result=result,
                cached=cached,
                error=None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                invocation_id=invocation_id,
                rate_limits=decision,
            )
            _record(**record, outcome=outcome)
        return outcome
    except RateLimitExceeded as exc:
        error, decision = exc, exc.decision
    except DomainError as exc:
        error = exc
    except Exception:
        outcome = InvocationResult(
            tool_name=name,
            success=False,
            result=None,
            cached=False,
            error=DomainError("The tool failed.", code="server_error"),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            invocation_id=invocation_id,
        )
        logger.exception("Tool %s failed (invocation %s)", name, invocation_id)
        _record(**record, outcome=outcome)
        raise
    # Refused or failed: the tool's writes were rolled back; the refusal is recorded on its own.
    outcome = InvocationResult(
        tool_name=name,
        success=False,
        result=None,
        cached=False,
        error=error,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        invocation_id=invocation_id,
        rate_limits=decision,
    )
    _record(**record, outcome=outcome)
    return outcome
