"""What quotas reads from the tool layer above it, registered by that layer at start-up.

The tool pipeline (apps.mcp_tools) calls quotas on every call, so quotas must not import it back
(tests/test_architecture.py). The few things quotas reports about tools, which tools a caller may
use with which rate and how often they were called or refused, come through this seam instead:
apps.mcp_tools fills it in its AppConfig.ready(). Without a registration (quotas on its own) there
are no tools to report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolRate:
    tool_name: str
    rate: str | None  # the tool policy's own rate; None: the MCP_RATE_LIMIT_DEFAULT setting


@dataclass(frozen=True)
class ToolSource:
    # The tools `principal` may call now, each with its policy's rate.
    tool_rates: Callable[..., list[ToolRate]]
    # {tool name: calls} by `user_id` since `since`.
    tool_call_counts: Callable[..., dict[str, int]]
    # [{"user__username", "refusals"}], most refused first, calls since `since` refused with `codes`.
    tool_refusals_by_user: Callable[..., list[dict[str, Any]]]


def _no_tool_rates(*, principal: Any) -> list[ToolRate]:
    return []


def _no_tool_calls(*, user_id: int, since: dt.datetime) -> dict[str, int]:
    return {}


def _no_refusals(*, since: dt.datetime, codes: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    return []


_EMPTY = ToolSource(tool_rates=_no_tool_rates, tool_call_counts=_no_tool_calls, tool_refusals_by_user=_no_refusals)
_registered: ToolSource = _EMPTY


def tool_source_register(source: ToolSource) -> None:
    global _registered
    _registered = source


def tool_source() -> ToolSource:
    return _registered
