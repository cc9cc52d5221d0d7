"""Importing this package registers every tool (AppConfig.ready does it once)."""

from apps.mcp_tools.tools import ai, todo_reads, todo_writes, utility  # noqa: F401
