"""Sign-in, sign-out, sign-up, password change and reset: Django's session login on the accounts services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from apps.accounts import services as account_services
from apps.core.client_address import client_address
from apps.core.errors import DomainError
from apps.web.forms import (
    LoginForm,
    NewPasswordForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    SignupForm,
    error_text,
    form_add_domain_error,
)
from apps.web.oauth.views import sign_in_form_may_redirect
from apps.web.views.common import render_page, signed_in_page


class LoginView(auth_views.LoginView):
    """Django's login (through django-axes, which locks repeated failures as on the admin and the API)."""

    template_name = "web/accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "registration_open": settings.REGISTRATION_OPEN}

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        # On the way to an OAuth sign-in, the form's answer may end at the connecting app.
        sign_in_form_may_redirect(response, self.get_redirect_url())
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link cannot sign anyone out."""

    template_name = "web/accounts/logged_out.html"


@sensitive_post_parameters("password")
@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.REGISTRATION_OPEN:
        return render(request, "web/accounts/signup_closed.html", status=403)
    if request.user.is_authenticated:
        return redirect("web:setup")
    form = SignupForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = account_services.user_register(
                username=data["username"],
                password=data["password"],
                email=data["email"],
                timezone_name=data["timezone"],
                client_address=client_address(request),
            )
        except DomainError as exc:
            error = exc
            form_add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}. Let\u2019s connect your first client.")
            return redirect("web:setup")
    return render_page(request, "web/accounts/signup.html", {"form": form}, error=error)


@sensitive_post_parameters("old_password", "new_password")
@signed_in_page
def password_change(request: HttpRequest) -> HttpResponse:
    """The same service as POST /api/auth/password: every other session and JWT ends."""
    form = PasswordChangeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            changed = account_services.user_password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            error = exc
            form_add_domain_error(form, exc)
        else:
            # This browser stays signed in, as Django's own password change view does.
            update_session_auth_hash(request, request.user)
            return render(
                request,
                "web/accounts/password_changed.html",
                {"personal_tokens": changed.personal_tokens, "connected_apps": changed.connected_apps},
            )
    return render_page(request, "web/accounts/password_change.html", {"form": form}, error=error)


@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            account_services.user_password_reset_request(
                email=form.cleaned_data["email"], client_address=client_address(request)
            )
        except DomainError as exc:
            error = exc
            form.add_error(None, error_text(exc))
        else:
            # The same answer whether or not the address is known.
            return redirect("web:password_reset_sent")
    return render_page(request, "web/accounts/password_reset.html", {"form": form}, error=error)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/accounts/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("web:password_reset_complete")
