"""/settings/keys/: the provider key manager, on apps.keys' services (the same ones /api/api-keys uses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.keys import selectors as key_selectors
from apps.keys import services as key_services
from apps.providers.registry import provider_specs_list
from apps.providers.services import ai_preferences_get, ai_preferences_update
from apps.providers.validation import LiveValidationResult
from apps.web import services
from apps.web.forms import (
    KeyAddForm,
    KeyExpiryForm,
    KeyRotateForm,
    ProviderOrderForm,
    error_text,
    form_add_domain_error,
)
from apps.web.views.common import render_page, signed_in_page

if TYPE_CHECKING:
    from apps.keys.models import ProviderKey


def validation_message(outcome: LiveValidationResult | None) -> str:
    if outcome is None:
        return "Not checked with the provider yet."
    if outcome.is_valid:
        return f"Valid: {outcome.detail}"
    return f"Not confirmed: {outcome.detail}"


def key_add(request: HttpRequest, form: KeyAddForm) -> tuple[ProviderKey, LiveValidationResult | None] | DomainError:
    """Store the key from a bound, valid form; a refusal goes onto the form and is returned.

    Shared by the key manager and the guided setup, so both record the setup steps the same way.
    """
    data = form.cleaned_data
    try:
        key, outcome = key_services.provider_key_create(
            actor=request.user,
            owner=request.user,
            provider=data["provider"],
            api_key=data["api_key"],
            label=data["label"],
            base_url=data["base_url"],
            expires_at=form.expiry(),
            validate=data["validate"],
        )
    except DomainError as exc:
        form_add_domain_error(form, exc, field="api_key")
        return exc
    services.setup_step_complete(user=request.user, step=services.Step.KEY_ADDED)
    if outcome is not None and outcome.is_valid:
        services.setup_step_complete(user=request.user, step=services.Step.KEY_VALIDATED)
    return key, outcome


def provider_order_form(request: HttpRequest, *, bound: bool, auto_id: str = "order-%s") -> ProviderOrderForm:
    preferences = ai_preferences_get(user=request.user)
    return ProviderOrderForm(request.POST if bound else None, preferences=preferences, auto_id=auto_id)


def provider_order_save(request: HttpRequest, form: ProviderOrderForm) -> DomainError | None:
    """Save the order and models from a bound, valid form (apps.providers' service, as the API's);
    shared by the key manager and the guided setup. A refusal goes onto the form and is returned."""
    try:
        ai_preferences_update(user=request.user, provider_order=form.provider_order(), models=form.models())
    except DomainError as exc:
        # The service's messages are about the whole order ("Name each provider once."), not one field.
        details = exc.details if isinstance(exc.details, dict) else {}
        reasons = [str(m) for messages_ in details.values() if isinstance(messages_, list) for m in messages_]
        for reason in reasons or [error_text(exc)]:
            form.add_error(None, reason)
        return exc
    services.setup_step_complete(user=request.user, step=services.Step.PROVIDER_ORDER)
    return None


def _list_context(request: HttpRequest, form: KeyAddForm, order_form: ProviderOrderForm) -> dict:
    return {
        "keys": key_selectors.provider_key_list(owner=request.user),
        "form": form,
        "order_form": order_form,
        "providers": provider_specs_list(),
        "validations": key_selectors.KeyValidation,
    }


@sensitive_post_parameters("api_key")
@signed_in_page
def key_list(request: HttpRequest) -> HttpResponse:
    ordering = request.method == "POST" and request.POST.get("action") == "provider_order"
    form = KeyAddForm(request.POST if request.method == "POST" and not ordering else None)
    order_form = provider_order_form(request, bound=ordering)
    error = None
    if ordering and order_form.is_valid():
        error = provider_order_save(request, order_form)
        if error is None:
            messages.success(request, "Provider order and models saved.")
            return redirect("web:keys")
    elif request.method == "POST" and not ordering and form.is_valid():
        added = key_add(request, form)
        if not isinstance(added, DomainError):
            key, outcome = added
            messages.success(
                request, f"Key \u201c{key.label}\u201d stored as {key.mask}. {validation_message(outcome)}"
            )
            return redirect("web:keys")
        error = added
    context = _list_context(request, form, order_form)
    return render_page(request, "web/settings/keys.html", context, error=error)


def _key(request: HttpRequest, key_id: int) -> ProviderKey:
    return key_selectors.provider_key_get(owner=request.user, key_id=key_id)


@require_POST
@signed_in_page
def key_validate(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    try:
        key, outcome = key_services.provider_key_validate(actor=request.user, key=key)
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        if outcome.is_valid:
            services.setup_step_complete(user=request.user, step=services.Step.KEY_VALIDATED)
            messages.success(request, f"\u201c{key.label}\u201d: {validation_message(outcome)}")
        else:
            messages.error(request, f"\u201c{key.label}\u201d: {validation_message(outcome)}")
    return redirect("web:setup" if request.POST.get("next") == "setup" else "web:keys")


@require_POST
@signed_in_page
def key_make_default(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    try:
        key = key_services.provider_key_set_default(actor=request.user, key=key)
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"\u201c{key.label}\u201d is now your default {key.provider_display_name} key.")
    return redirect("web:keys")


@sensitive_post_parameters("api_key")
@signed_in_page
def key_rotate(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    form = KeyRotateForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            new, outcome = key_services.provider_key_rotate(
                actor=request.user,
                key=key,
                api_key=form.cleaned_data["api_key"],
                validate=form.cleaned_data["validate"],
            )
        except DomainError as exc:
            error = exc
            form_add_domain_error(form, exc, field="api_key")
        else:
            messages.success(
                request,
                f"\u201c{new.label}\u201d rotated: now {new.mask}, the old secret is erased. "
                f"{validation_message(outcome)}",
            )
            return redirect("web:keys")
    return render_page(request, "web/settings/key_rotate.html", {"key": key, "form": form}, error=error)


@signed_in_page
def key_expiry(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    initial = {"expires_at": key.expires_at.date()} if key.expires_at else {}
    form = KeyExpiryForm(request.POST or None, initial=initial)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            key = key_services.provider_key_set_expiry(actor=request.user, key=key, expires_at=form.expiry())
        except DomainError as exc:
            error = exc
            form_add_domain_error(form, exc, field="expires_at")
        else:
            when = f"expires at the end of {key.expires_at:%Y-%m-%d} (UTC)" if key.expires_at else "no longer expires"
            messages.success(request, f"\u201c{key.label}\u201d {when}.")
            return redirect("web:keys")
    return render_page(request, "web/settings/key_expiry.html", {"key": key, "form": form}, error=error)


@signed_in_page
def key_delete(request: HttpRequest, key_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes (its history stays in the audit trail)."""
    key = _key(request, key_id)
    if request.method == "POST":
        key_services.provider_key_delete(actor=request.user, key=key)
        messages.success(request, f"Key \u201c{key.label}\u201d ({key.mask}) deleted.")
        return redirect("web:keys")
    return render_page(request, "web/settings/key_delete.html", {"key": key})
