"""What the doors above this app (the chat loop) use of it: the one pipeline, the user's providers as
the assistant asks them, and which tools a conversation may offer. Nothing here is new logic; it is
the public face of the pipeline and assistant modules, so their insides can move without the doors
following them.
"""

from __future__ import annotations

from apps.accounts.principal import Principal
from apps.mcp_tools.assistant import AssistantAnswer, assistant_complete
from apps.mcp_tools.pipeline import InvocationResult, tool_invoke
from apps.mcp_tools.pipeline.policies import tools_available
from apps.mcp_tools.pipeline.registry import ToolSpec
from apps.mcp_tools.tools.todo_group import TODOS_GROUP

__all__ = [
    "AssistantAnswer",
    "InvocationResult",
    "ToolSpec",
    "assistant_complete",
    "todo_tools_available",
    "tool_invoke",
    "tools_available",
]


def todo_tools_available(*, principal: Principal) -> list[ToolSpec]:
    """The todo tools this caller may use now: what the chat loop offers its model."""
    return [spec for spec in tools_available(principal=principal) if spec.cache_group == TODOS_GROUP]
