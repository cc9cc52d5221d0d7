from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from apps.accounts.roles import ROLES
from apps.accounts.scopes import SCOPES
from apps.audit.masking import mask_text
from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.core.errors import InvalidInput
from apps.mcp_tools.models import ToolCall, ToolPolicy
from apps.mcp_tools.pipeline.policies import POLICY_FIELDS, policies_ensure, tool_policy_update
from apps.mcp_tools.pipeline.registry import tool_get, tools_registered


class ToolPolicyForm(forms.ModelForm):
    allowed_roles = forms.MultipleChoiceField(
        choices=[(role, role) for role in ROLES], widget=forms.CheckboxSelectMultiple, required=False
    )
    required_scope = forms.ChoiceField(choices=[(scope, f"{scope} — {text}") for scope, text in SCOPES.items()])

    class Meta:
        model = ToolPolicy
        fields = list(POLICY_FIELDS)


@admin.register(ToolPolicy)
class ToolPolicyAdmin(admin.ModelAdmin):
    """Operators tune tools here; every save goes through tool_policy_update (validated, audited)."""

    form = ToolPolicyForm
    list_display = ["tool_name", "enabled", "role_list", "required_scope", "cacheable", "rate_limit", "updated_at"]
    list_filter = ["enabled", "cacheable", "required_scope"]
    search_fields = ["tool_name"]
    readonly_fields = ["tool_name", "tool_description", "read_only", "updated_at"]
    fields = ["tool_name", "tool_description", "read_only", *POLICY_FIELDS, "updated_at"]

    def get_queryset(self, request: HttpRequest):
        # A tool registered since the last migrate shows up here too.
        policies_ensure()
        return super().get_queryset(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from the registry

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # turn a tool off with `enabled` instead

    @admin.display(description="roles")
    def role_list(self, obj: ToolPolicy) -> str:
        return ", ".join(obj.allowed_roles) or "-"

    @admin.display(boolean=True, description="read-only")
    def read_only(self, obj: ToolPolicy) -> bool | None:
        spec = tool_get(obj.tool_name)
        return spec.read_only if spec is not None else None

    @admin.display(description="description")
    def tool_description(self, obj: ToolPolicy) -> str:
        spec = tool_get(obj.tool_name)
        return spec.description if spec is not None else "(no longer registered)"

    def save_model(self, request: HttpRequest, obj: ToolPolicy, form: forms.ModelForm, change: bool) -> None:
        # The form already set the values on obj; reload the stored row so the service sees before/after.
        stored = ToolPolicy.objects.get(pk=obj.pk)
        changes = {name: form.cleaned_data[name] for name in POLICY_FIELDS if name in form.cleaned_data}
        try:
            tool_policy_update(policy=stored, actor=request.user, changes=changes)
        except InvalidInput as exc:
            self.message_user(request, f"{exc.message} {exc.details}", level=messages.ERROR)


class RegisteredToolFilter(admin.SimpleListFilter):
    """Filter by the registered tools, not by every distinct stored name (which once held clients' text)."""

    title = "tool"
    parameter_name = "tool"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(spec.name, spec.name) for spec in sorted(tools_registered(), key=lambda spec: spec.name)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(tool_name=self.value()) if self.value() else queryset


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "tool", "user", "transport", "success", "cached", "error_code"]
    list_filter = [RegisteredToolFilter, "transport", "success", "cached", "auth_method"]
    search_fields = ["tool_name", "user__username", "invocation_id", "error_code"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    exclude = ["tool_name"]
    readonly_fields = ["tool"]

    @admin.display(description="tool", ordering="tool_name")
    def tool(self, obj: ToolCall) -> str:
        # Masked on display too: rows from before unknown names were stored as labels (issue 7 item 13).
        return mask_text(obj.tool_name)
