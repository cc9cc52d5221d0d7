"""THE invocation pipeline every door calls: `tool_invoke` (invoke.py), with its steps in their own
modules: registry.py (what tools exist), policies.py (who may call them), arguments.py (validation),
cache.py (results); rate limits are apps.quotas (services.quota_tool_call_check)."""

from apps.mcp_tools.pipeline.invoke import InvocationResult, tool_invoke

__all__ = ["InvocationResult", "tool_invoke"]
