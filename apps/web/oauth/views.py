"""The authorization server's endpoints: the toolkit's views with the gateway's rules around them.

/authorize: the product's own sign-in page first (LOGIN_URL), then PKCE S256 and the `resource`
checked, scopes capped by the role, and the consent page, unless this user already allowed this
client every scope asked for. Errors go back to the client only once the toolkit has proved the
redirect URI is registered (no open redirect); otherwise they are shown here.
/token, /revoke, /register: JSON answers with the RFC error codes. Each endpoint counts against the
caller's rate (the address's when anonymous) like every other door, and each outcome is audited.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.views.dynamic_client_registration import (
    DynamicClientRegistrationManagementView,
    DynamicClientRegistrationView,
)
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from apps.accounts.oauth.connections import connection_consent_record, connection_scopes
from apps.accounts.oauth.events import client_host, oauth_event_record
from apps.accounts.oauth.resource import mcp_resource_url, oauth_issuer
from apps.accounts.oauth.validator import token_checksum
from apps.accounts.scopes import SCOPES, scopes_for_user
from apps.core.client_address import client_address
from apps.core.errors import RateLimited, ServiceUnavailable
from apps.core.limit_reports import RateLimitExceeded
from apps.core.throttle import throttle_hit
from apps.quotas.services import quota_request_check
from apps.quotas.throttle import decision_attach
from apps.web.oauth.clients import redirect_uri_refusal

CONSENT_TEMPLATE = "accounts/oauth/consent.html"
ERROR_TEMPLATE = "accounts/oauth/error.html"
GRANT_TYPES = ("authorization_code", "refresh_token")
INVALID_FORM = "The sign-in request is not valid; start again from the app."


def _rate_refusal(request: HttpRequest, *, page: bool = False) -> HttpResponse | None:
    """Count the request against the caller's rate (the address's when signed out); the refusal, if over."""
    user = request.user if request.user.is_authenticated else None
    try:
        decision_attach(request, quota_request_check(user=user, address=client_address(request)))
    except (RateLimited, ServiceUnavailable) as refused:
        if isinstance(refused, RateLimitExceeded):
            decision_attach(request, refused.decision)
        limited = isinstance(refused, RateLimited)
        status = 429 if limited else 503
        if page:
            response = render(
                request, ERROR_TEMPLATE, {"error": "rate_limited", "description": refused.message}, status=status
            )
        else:
            response = _json_error("rate_limited" if limited else "temporarily_unavailable", refused.message, status)
        if refused.retry_after:
            response["Retry-After"] = str(refused.retry_after)
        return response
    return None


def _json_error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _resource_problem(resources: list[str]) -> tuple[str, str] | None:
    """RFC 8707: exactly one `resource`, this server's canonical MCP URL."""
    canonical = mcp_resource_url()
    if not resources:
        return "invalid_target", f"The resource parameter is required; this server issues tokens for {canonical}."
    if len(resources) != 1 or resources[0].rstrip("/") != canonical:
        return "invalid_target", f"This server issues tokens only for the resource {canonical}."
    return None


def _authorization_problem(*, code_challenge_method: str | None, resources: list[str]) -> tuple[str, str] | None:
    if code_challenge_method != "S256":
        # oauthlib reads a challenge without a method as "plain"; both are refused.
        return "invalid_request", "PKCE with code_challenge_method=S256 is required; plain is not accepted."
    return _resource_problem(resources)


class AuthorizeView(dot_views.AuthorizationView):
    template_name = CONSENT_TEMPLATE

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _rate_refusal(request, page=True)
        return refused or super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        problem = _authorization_problem(
            code_challenge_method=credentials.get("code_challenge_method"), resources=request.GET.getlist("resource")
        )
        if problem is not None:
            return self._refuse(problem, credentials, application)
        allowed = scopes_for_user(request.user)
        wanted = [scope for scope in scopes if scope in allowed]
        if not wanted:
            return self._refuse(
                ("invalid_scope", "Your account's role allows none of the scopes asked for."), credentials, application
            )
        credentials["resource"] = [mcp_resource_url()]
        already = connection_scopes(user=request.user, application=application)
        if set(wanted) <= already:
            # Consent is remembered per user, client and scopes: nothing new to ask.
            return self._approve(wanted, credentials, application, remembered=True)
        self.oauth2_data = {
            **{key: credentials.get(key) for key in ("client_id", "redirect_uri", "response_type", "state")},
            "code_challenge": credentials.get("code_challenge"),
            "code_challenge_method": credentials.get("code_challenge_method"),
            "scopes": wanted,
            "resource": mcp_resource_url(),
        }
        context = {
            "form": self.get_form(),
            "application": application,
            "client_name": application.name or "An unnamed app",
            "client_host": client_host(application),
            "redirect_uri": credentials["redirect_uri"],
            "new_scopes": [(scope, SCOPES[scope]) for scope in wanted if scope not in already],
            "kept_scopes": [(scope, SCOPES[scope]) for scope in wanted if scope in already],
            "resource": mcp_resource_url(),
        }
        response = self.render_to_response(context)
        _form_may_redirect_to(response, credentials["redirect_uri"])
        response["Cache-Control"] = "no-store"
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        data = form.cleaned_data
        application = get_application_model().objects.filter(client_id=data["client_id"]).first()
        if application is None or not application.redirect_uri_allowed(data["redirect_uri"]):
            # Tampered hidden fields: never redirect to a URI the client did not register.
            return self._invalid_form()
        credentials = {key: data.get(key) for key in ("client_id", "redirect_uri", "response_type", "state")}
        for key in ("code_challenge", "code_challenge_method"):
            if data.get(key):
                credentials[key] = data[key]
        problem = _authorization_problem(
            code_challenge_method=data.get("code_challenge_method"), resources=(data.get("resource") or "").split()
        )
        if problem is not None:
            return self._refuse(problem, credentials, application)
        allowed = scopes_for_user(self.request.user)
        scopes = [scope for scope in (data.get("scope") or "").split() if scope in allowed]
        connection_consent_record(user=self.request.user, application=application, scopes=scopes, allowed=data["allow"])
        if not data["allow"] or not scopes:
            return self._refuse(
                ("access_denied", "The user denied the request."), credentials, application, audited=True
            )
        credentials["resource"] = [mcp_resource_url()]
        return self._approve(scopes, credentials, application)

    def form_invalid(self, form: Any) -> HttpResponse:
        return self._invalid_form()

    def _invalid_form(self) -> HttpResponse:
        context = {"error": "invalid_request", "description": INVALID_FORM}
        return render(self.request, ERROR_TEMPLATE, context, status=400)

    def _approve(
        self, scopes: list[str], credentials: dict, application: Any, *, remembered: bool = False
    ) -> HttpResponse:
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=self.request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        oauth_event_record(
            "oauth.code_issued", actor=self.request.user, client=application, scopes=scopes, remembered=remembered
        )
        return self.redirect(uri, application)

    def _refuse(
        self, problem: tuple[str, str], credentials: dict, application: Any, *, audited: bool = False
    ) -> HttpResponse:
        error, description = problem
        oauthlib_error = CustomOAuth2Error(error=error, description=description, state=credentials.get("state"))
        toolkit_error = OAuthToolkitError(error=oauthlib_error, redirect_uri=credentials["redirect_uri"])
        return self.error_response(toolkit_error, application, audited=audited)

    def error_response(
        self, error: OAuthToolkitError, application: Any, audited: bool = False, **kwargs: Any
    ) -> HttpResponse:
        redirect, error_response = OAuthLibMixin.error_response(self, error, **kwargs)
        oauthlib_error = error_response["error"]
        if not audited:
            user = self.request.user if self.request.user.is_authenticated else None
            oauth_event_record(
                "oauth.authorize_refused",
                actor=user,
                outcome="denied",
                client=application or self.request.GET.get("client_id") or "",
                error=oauthlib_error.error,
                description=oauthlib_error.description,
            )
        if redirect:
            # RFC 9207: error responses carry `iss` too.
            return self.redirect(_add_iss_to_redirect(error_response["url"], oauth_issuer()), application)
        return render(
            self.request,
            ERROR_TEMPLATE,
            {"error": oauthlib_error.error, "description": oauthlib_error.description},
            status=oauthlib_error.status_code or 400,
        )


def _form_may_redirect_to(response: HttpResponse, redirect_uri: str) -> None:
    """The consent form's answer is a redirect to the client; CSP form-action must allow its origin
    (browsers check it along the redirect chain a form submission starts)."""
    parts = urlsplit(redirect_uri)
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    response._csp_update = {"form-action": [source]}


def sign_in_form_may_redirect(response: HttpResponse, next_url: str) -> None:
    """The sign-in page on the way to /authorize: with consent remembered, its form's answer ends in a
    redirect to the client (sign-in -> /authorize -> client), so its form-action names the client's
    origin too, once the client and the redirect URI are known and registered (no fetch here)."""
    parts = urlsplit(next_url or "")
    if parts.scheme or parts.netloc or parts.path != reverse("oauth2_provider:authorize"):
        return
    query = parse_qs(parts.query)
    client_id, redirect_uri = query.get("client_id", [""])[0], query.get("redirect_uri", [""])[0]
    application = get_application_model().objects.filter(client_id=client_id).first() if client_id else None
    if application is not None and redirect_uri and application.redirect_uri_allowed(redirect_uri):
        _form_may_redirect_to(response, redirect_uri)


class TokenView(dot_views.TokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _rate_refusal(request)
        if refused is not None:
            return refused
        grant_type = request.POST.get("grant_type", "")
        presented_client = request.POST.get("client_id", "")
        if grant_type not in GRANT_TYPES:
            oauth_event_record(
                "oauth.token_refused", outcome="denied", client=presented_client, error="unsupported_grant_type"
            )
            return _json_error("unsupported_grant_type", "Only authorization_code and refresh_token are accepted.")
        problem = _resource_problem(request.POST.getlist("resource"))
        if problem is not None:
            oauth_event_record("oauth.token_refused", outcome="denied", client=presented_client, error=problem[0])
            return _json_error(*problem)
        response = super().post(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        try:
            body = json.loads(response.content or b"{}")
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("access_token"):
            token = (
                get_access_token_model()
                .objects.select_related("application", "user")
                .filter(token_checksum=token_checksum(body["access_token"]))
                .first()
            )
            if token is not None:
                oauth_event_record(
                    "oauth.token_refreshed" if grant_type == "refresh_token" else "oauth.token_issued",
                    actor=token.user,
                    client=token.application,
                    scopes=token.scope.split(),
                    expires_at=token.expires.isoformat(),
                )
        else:
            oauth_event_record(
                "oauth.token_refused",
                outcome="denied",
                client=presented_client,
                grant_type=grant_type,
                error=str(body.get("error", response.status_code)),
            )
        return response


class RevokeView(dot_views.RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _rate_refusal(request)
        if refused is not None:
            return refused
        response = super().post(request, *args, **kwargs)
        oauth_event_record(
            "oauth.token_revoked",
            outcome="success" if response.status_code == 200 else "failure",
            client=request.POST.get("client_id", ""),
            token_type_hint=request.POST.get("token_type_hint", ""),
        )
        return response


class RegisterView(DynamicClientRegistrationView):
    """RFC 7591, open as MCP clients expect, limited per address (OAUTH_REGISTRATION_RATE)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _rate_refusal(request)
        if refused is not None:
            return refused
        try:
            throttle_hit(
                rate=settings.OAUTH_REGISTRATION_RATE,
                key=("oauth-register", client_address(request)),
                message="Too many client registrations from this address; try again later.",
            )
        except RateLimited as limited:
            oauth_event_record("oauth.client_registration_refused", outcome="denied", reason="rate_limited")
            response = _json_error("rate_limited", limited.message, 429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        except ServiceUnavailable as unavailable:
            return _json_error("temporarily_unavailable", unavailable.message, 503)
        try:
            metadata = json.loads(request.body)
        except ValueError:
            metadata = None
        if isinstance(metadata, dict) and isinstance(metadata.get("redirect_uris"), list):
            for uri in metadata["redirect_uris"]:
                refusal = redirect_uri_refusal(uri)
                if refusal is not None:
                    oauth_event_record("oauth.client_registration_refused", outcome="denied", reason=refusal)
                    return _json_error("invalid_redirect_uri", refusal)
        response = super().post(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        body = json.loads(response.content or b"{}")
        if response.status_code == 201:
            oauth_event_record(
                "oauth.client_registered", client=body.get("client_id", ""), name=body.get("client_name", "")
            )
        else:
            oauth_event_record(
                "oauth.client_registration_refused",
                outcome="denied",
                reason=str(body.get("error_description") or body.get("error") or response.status_code),
            )
        return response


class RegistrationManagementView(DynamicClientRegistrationManagementView):
    """RFC 7592 read and delete with the registration token; no update, so redirect URIs are only ever
    the ones checked at registration."""

    def put(self, request: HttpRequest, client_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return _json_error("invalid_request", "Registrations cannot be changed; register a new client.", 405)
