"""Utility tools: the time where the user is, and who the caller is."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.accounts.principal import Principal
from apps.accounts.scopes import PROFILE_READ, user_roles
from apps.core.timezones import UTC_ZONE, zone_or_utc
from apps.keys.selectors import provider_key_list
from apps.mcp_tools.pipeline.registry import tool
from apps.mcp_tools.tools.schemas import obj

ALL_ROLES = frozenset({"user", "operator", "auditor"})


@tool(
    name="current_time",
    title="Current time",
    description=(
        "The current date and time in the user's time zone (and in UTC). Use it before turning phrases like "
        "'tomorrow' or 'in two hours' into dates."
    ),
    input_schema=obj({}),
    output_schema=obj(
        {
            "timezone": {"type": "string"},
            "local": {"type": "string"},
            "utc": {"type": "string"},
            "date": {"type": "string"},
            "time": {"type": "string"},
            "weekday": {"type": "string"},
            "utc_offset": {"type": "string"},
        },
        required=["timezone", "local", "utc", "date", "time", "weekday", "utc_offset"],
    ),
    required_scope=PROFILE_READ,
    read_only=True,
    default_roles=ALL_ROLES,
)
def current_time(principal: Principal) -> dict[str, Any]:
    tz = zone_or_utc(principal.user.timezone)
    now = timezone.now()
    local = now.astimezone(tz)
    return {
        "timezone": str(tz),
        "local": local.isoformat(timespec="seconds"),
        "utc": now.astimezone(UTC_ZONE).isoformat(timespec="seconds"),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "weekday": local.strftime("%A"),
        "utc_offset": local.strftime("%z"),
    }


PROVIDER = obj(
    {
        "id": {"type": "integer"},
        "provider": {"type": "string"},
        "label": {"type": "string"},
        "mask": {"type": "string"},
        "status": {"type": "string"},
        "is_default": {"type": "boolean"},
    },
    required=["id", "provider", "label", "mask", "status", "is_default"],
)


def _providers(user: Any) -> list[dict[str, Any]]:
    """The user's stored provider keys, masked."""
    return [
        {
            "id": key.pk,
            "provider": str(key.provider),
            "label": key.label,
            "mask": key.mask,
            # effective_status already counts a passed expiry as "expired".
            "status": str(getattr(key, "effective_status", key.status)),
            "is_default": bool(key.is_default),
        }
        for key in provider_key_list(owner=user)
    ]


@tool(
    name="whoami",
    title="Who am I",
    description=(
        "Who is calling: user name, time zone, roles, the scopes this connection carries, how it authenticated, "
        "and the AI provider keys the user has stored (masked, never the key itself)."
    ),
    input_schema=obj({}),
    output_schema=obj(
        {
            "user": obj(
                {
                    "id": {"type": "integer"},
                    "username": {"type": "string"},
                    "email": {"type": "string"},
                    "timezone": {"type": "string"},
                },
                required=["id", "username", "email", "timezone"],
            ),
            "roles": {"type": "array", "items": {"type": "string"}},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "auth_method": {"type": "string"},
            "access_token_id": {"type": ["integer", "null"]},
            "acting_operator": {"type": ["string", "null"]},
            "providers": {"type": ["array", "null"], "items": PROVIDER},
        },
        required=["user", "roles", "scopes", "auth_method", "access_token_id", "acting_operator", "providers"],
    ),
    required_scope=PROFILE_READ,
    read_only=True,
    default_roles=ALL_ROLES,
)
def whoami(principal: Principal) -> dict[str, Any]:
    user = principal.user
    return {
        "user": {"id": user.pk, "username": user.username, "email": user.email, "timezone": user.timezone},
        "roles": sorted(user_roles(user)),
        "scopes": sorted(principal.scopes),
        "auth_method": principal.auth_method,
        "access_token_id": principal.token_id,
        "acting_operator": principal.operator.username if principal.operator is not None else None,
        "providers": _providers(user),
    }
