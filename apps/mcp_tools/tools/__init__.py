"""Importing this package registers every tool (AppConfig.ready does it once)."""

from apps.mcp_tools.tools import ai, todos, utility  # noqa: F401
