"""Refusals by the rate limits leave a trace: one audit event per caller (or client address), limit
and minute, with how many requests that limit refused.

The engine (apps.core.limiter) counts every refusal in the same round trip that refuses it (a field
of a per-minute Redis hash, or the local buckets' table), so a refusal costs no database work; the
first refusal of each new minute hands the closed minutes here (one flush a minute, whatever the
flood), and the `quotas.rate_limit_refusals_flush` job every minute writes the last one. A flood from
one caller is one row a minute; the table grows with distinct callers refused, not with requests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from apps.accounts.selectors import users_by_id
from apps.audit.services import audit_event_record
from apps.core.limiter import limit_key_of
from apps.core.request_context import RequestContext, request_context_reset, request_context_update
from apps.core.request_id import request_id_new, request_id_reset, request_id_set

ACTION = "quota.rate_limited"


def _who(parts: list[str]) -> tuple[str, int | None, str]:
    """A limit key's parts -> (the limit's name, the user counted, else what is counted: an address...)."""
    family, rest = parts[0], parts[1:]
    if family == "user":
        return "user", int(rest[0]), ""
    if family in {"tool", "provider"}:
        return f"{family} {':'.join(rest[1:])}", int(rest[0]), ""
    if family == "account":
        name, counted = rest[0], ":".join(rest[1:])
        if name == "password-change-failed":
            return name, int(counted), ""
        return name, None, counted
    return ("address" if family == "address" else family), None, ":".join(rest)


def rate_limit_refusals_record(taken: list[tuple[int, str, int]]) -> None:
    """[(minute since the epoch, the counter's storage key, refusals)] -> one audit event each."""
    rows = []
    for minute, key, count in taken:
        try:
            rows.append((minute, *_who(limit_key_of(key).split(":")), count))
        except (IndexError, ValueError):  # not a key this release writes (an older one's): skip it
            continue
    rows.sort(key=lambda row: (row[0], row[1], row[3]))
    users = users_by_id(ids={user_id for _, _, user_id, _, _ in rows if user_id is not None})
    # Written by whichever request or job flushed them: none of its context is theirs.
    context, request_id = request_context_update(**vars(RequestContext())), request_id_set(request_id_new())
    try:
        with transaction.atomic():
            for minute, name, user_id, counted_by, count in rows:
                data: dict[str, Any] = {
                    "limit": name,
                    "minute": dt.datetime.fromtimestamp(minute * 60, tz=dt.UTC).isoformat(),
                    "count": count,
                }
                if counted_by:
                    data["counted_by"] = counted_by
                audit_event_record(
                    action=ACTION,
                    actor=users.get(user_id) if user_id is not None else None,
                    outcome="denied",
                    error_code="rate_limited",
                    target_type="rate_limit",
                    target_id=name,
                    data=data,
                )
    finally:
        request_id_reset(request_id)
        request_context_reset(context)
