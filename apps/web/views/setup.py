"""/settings/: the guided setup, step by step, on the same services as the key and token pages."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.debug import sensitive_post_parameters

from apps.core.errors import DomainError
from apps.keys import selectors as key_selectors
from apps.mcp_tools.pipeline.registry import tool_get
from apps.web import services
from apps.web.client_config import remote_connector_configs
from apps.web.forms import KeyAddForm, TokenCreateForm, ToolTryForm, form_add_domain_error
from apps.web.views.common import render_page, signed_in_page
from apps.web.views.keys import key_add, provider_order_form, provider_order_save, validation_message
from apps.web.views.tokens import mcp_configs, shown_once, token_create

ACTIONS = ("add_key", "provider_order", "create_token", "configured", "try_tool")


def _tool_choices() -> list[tuple[str, str]]:
    choices = []
    for name in services.TRY_TOOLS:
        spec = tool_get(name)
        if spec is not None:
            choices.append((name, f"{spec.title} ({name})"))
    return choices


@sensitive_post_parameters("api_key")
@signed_in_page
def setup(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    # Three forms on one page: their own id prefixes keep every element id unique.
    key_form = KeyAddForm(request.POST if action == "add_key" else None, initial={"validate": True}, auto_id="key-%s")
    token_form = TokenCreateForm(
        request.POST if action == "create_token" else None,
        initial={
            "name": "Claude Desktop",
            "scopes": ["profile:read", "todos:read", "todos:write"],
            "expires_in_days": "90",
        },
        auto_id="token-%s",
    )
    order_form = provider_order_form(request, bound=action == "provider_order")
    tool_form = ToolTryForm(request.POST if action == "try_tool" else None, tools=_tool_choices(), auto_id="tool-%s")
    context: dict = {}
    error: DomainError | None = None

    if action == "add_key" and key_form.is_valid():
        added = key_add(request, key_form)
        if isinstance(added, DomainError):
            error = added
        else:
            key, outcome = added
            messages.success(
                request, f"Key \u201c{key.label}\u201d stored as {key.mask}. {validation_message(outcome)}"
            )
            return redirect("web:setup")
    elif action == "provider_order" and order_form.is_valid():
        error = provider_order_save(request, order_form)
        if error is None:
            messages.success(request, "Provider order saved.")
            return redirect("web:setup")
    elif action == "create_token" and token_form.is_valid():
        created = token_create(request, token_form)
        if isinstance(created, DomainError):
            error = created
        else:
            context.update(created=created[0], plaintext=created[1], configs=mcp_configs(created[1]))
    elif action == "configured":
        services.setup_step_complete(user=request.user, step=services.Step.CLIENT_CONFIGURED)
        return redirect("web:setup")
    elif action == "try_tool" and tool_form.is_valid():
        try:
            arguments = services.tool_arguments_parse(tool_form.cleaned_data["arguments"])
        except DomainError as exc:
            error = exc
            form_add_domain_error(tool_form, exc)
        else:
            outcome = services.tool_try(
                user=request.user, tool_name=tool_form.cleaned_data["tool_name"], arguments=arguments
            )
            context["tool_outcome"] = outcome
            context["tool_result_json"] = json.dumps(outcome.result, indent=2, default=str)

    progress = services.setup_progress(user=request.user)
    context.update(
        progress=progress,
        key_form=key_form,
        token_form=token_form,
        order_form=order_form,
        tool_form=tool_form,
        keys=key_selectors.provider_key_list(owner=request.user),
        configs=context.get("configs") or mcp_configs(None),
        remote_configs=remote_connector_configs(mcp_url=settings.MCP_RESOURCE_URL),
    )
    response = render_page(request, "web/settings/setup.html", context, error=error)
    return shown_once(response) if "plaintext" in context else response
