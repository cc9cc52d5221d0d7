from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_policies(sender: AppConfig, **kwargs: Any) -> None:
    from apps.mcp_tools.pipeline.policies import policies_ensure

    policies_ensure()


class McpToolsConfig(AppConfig):
    """The tool registry, tool policies, the one invocation pipeline and the REST doors to it."""

    name = "apps.mcp_tools"
    label = "mcp_tools"
    verbose_name = "MCP tools"

    def ready(self) -> None:
        from apps.mcp_tools import tools  # noqa: F401 - registers every tool and the todos cache group
        from apps.mcp_tools.pipeline.usage import TOOL_SOURCE
        from apps.quotas.sources import tool_source_register

        tool_source_register(TOOL_SOURCE)

        post_migrate.connect(_ensure_policies, sender=self, dispatch_uid="mcp_tools.policies")
