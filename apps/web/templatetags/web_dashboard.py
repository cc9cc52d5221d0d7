"""{% operator_dashboard %}: the dashboard at the top of the admin index (templates/admin/index.html)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.web import dashboard

register = template.Library()


@register.inclusion_tag("web/admin/dashboard.html", takes_context=True)
def operator_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    if not getattr(user, "is_operator", False):
        # Auditors use the admin for the audit trail; the dashboard is the operators'.
        return {"shown": False}
    return {
        "shown": True,
        "users": dashboard.dashboard_users(),
        "funnel": dashboard.dashboard_setup_funnel(),
        "keys": dashboard.dashboard_keys(),
        "tokens": dashboard.dashboard_tokens(),
        "calls": dashboard.dashboard_tool_calls(),
        "audit": dashboard.dashboard_audit(verify=request.GET.get("verify_audit") == "1"),
        "schedules": dashboard.dashboard_schedules(),
        "top": dashboard.dashboard_top_users(),
        "providers": dashboard.dashboard_providers(),
    }
