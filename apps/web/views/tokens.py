"""/settings/tokens/: personal access tokens for MCP clients, on apps.accounts.pats (as /api/auth/tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.accounts import pats
from apps.accounts import selectors as account_selectors
from apps.accounts.principal import principal_for_token
from apps.accounts.scopes import SCOPES
from apps.core.errors import DomainError
from apps.mcp_tools.pipeline.policies import tools_available
from apps.web import services
from apps.web.client_config import client_configs
from apps.web.forms import TokenCreateForm, form_add_domain_error
from apps.web.views.common import render_page, signed_in_page

if TYPE_CHECKING:
    from apps.accounts.models import PersonalAccessToken


def token_create(request: HttpRequest, form: TokenCreateForm) -> tuple[PersonalAccessToken, str] | DomainError:
    """Create a token from a bound, valid form (token page and guided setup); a refusal goes onto the form."""
    try:
        token, plaintext = pats.pat_create(
            user=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.expiry(),
        )
    except DomainError as exc:
        form_add_domain_error(form, exc, field="name")
        return exc
    services.setup_step_complete(user=request.user, step=services.Step.TOKEN_CREATED)
    return token, plaintext


def mcp_configs(plaintext: str | None) -> list:
    return client_configs(mcp_url=settings.MCP_RESOURCE_URL, token=plaintext, checkout=str(settings.BASE_DIR))


def shown_once(response: HttpResponse) -> HttpResponse:
    """The one response that carries a token: browsers and proxies must not keep it."""
    response["Cache-Control"] = "no-store"
    return response


def _tokens_with_tools(request: HttpRequest) -> list[tuple[PersonalAccessToken, list]]:
    rows = []
    for token in account_selectors.pat_list(user=request.user):
        tools = tools_available(principal=principal_for_token(token)) if token.status == "active" else []
        rows.append((token, tools))
    return rows


@signed_in_page
def token_list(request: HttpRequest) -> HttpResponse:
    default_scopes = sorted(scope for scope in SCOPES if scope != "ai:invoke")
    form = TokenCreateForm(request.POST or None, initial={"scopes": default_scopes})
    error = None
    created = None
    if request.method == "POST" and form.is_valid():
        outcome = token_create(request, form)
        if isinstance(outcome, DomainError):
            error = outcome
        else:
            created = outcome
            form = TokenCreateForm(initial={"scopes": default_scopes})
    context = {
        "form": form,
        "tokens": _tokens_with_tools(request),
        "created": created[0] if created else None,
        "plaintext": created[1] if created else None,
        "configs": mcp_configs(created[1]) if created else [],
        "mcp_url": settings.MCP_RESOURCE_URL,
    }
    response = render_page(request, "web/settings/tokens.html", context, error=error)
    return shown_once(response) if created else response


@signed_in_page
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes at once (it stops working on every door)."""
    token = account_selectors.pat_get(user=request.user, token_id=token_id)
    if request.method == "POST":
        pats.pat_revoke(token=token, actor=request.user)
        messages.success(request, f"Token \u201c{token.name}\u201d ({token.prefix}\u2026) revoked.")
        return redirect("web:tokens")
    return render_page(request, "web/settings/token_revoke.html", {"token": token})
