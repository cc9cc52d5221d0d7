from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


def _ensure_policies(sender: AppConfig, **kwargs: Any) -> None:
    from apps.mcp_tools.pipeline.policies import policies_ensure

    policies_ensure()


def _tool_schemas_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from apps.mcp_tools.pipeline.registry import schema_errors

    return [checks.Error(error, id="mcp_tools.E001") for error in schema_errors()]


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

        checks.register(_tool_schemas_check)
        post_migrate.connect(_ensure_policies, sender=self, dispatch_uid="mcp_tools.policies")
