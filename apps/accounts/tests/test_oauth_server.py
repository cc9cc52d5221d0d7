"""The OAuth 2.1 authorization server, in process: discovery, the code flow and every refusal the issue
lists, consent, scopes, audiences, Disconnect and the admin. The SDK client over a live server is in
test_oauth_live.py; the CIMD fetch refusals in test_oauth_cimd.py."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import OAuthConnection
from apps.accounts.principal import principal_from_bearer
from apps.accounts.tests.oauth_helpers import (
    REDIRECT_URI,
    allowed_code,
    authorize_params,
    authorize_url,
    code_for,
    consent_post,
    pkce_pair,
    redirect_params,
    register,
    token,
    tokens_for,
)
from apps.audit.models import AuditEvent
from apps.core.errors import Unauthenticated
from apps.web.tests.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon() -> Client:
    return Client()


@pytest.fixture
def alice_browser(alice) -> Client:
    return signed_in(alice)


def _actions() -> list[str]:
    return list(AuditEvent.objects.filter(action__startswith="oauth.").order_by("id").values_list("action", flat=True))


# --- Discovery -------------------------------------------------------------------------------------------


def test_it_publishes_authorization_server_metadata_from_the_public_base_url(anon):
    metadata = anon.get("/.well-known/oauth-authorization-server").json()

    base = settings.PUBLIC_BASE_URL
    assert metadata["issuer"] == base
    assert metadata["authorization_endpoint"] == f"{base}/authorize"
    assert metadata["token_endpoint"] == f"{base}/token"
    assert metadata["registration_endpoint"] == f"{base}/register"
    assert metadata["revocation_endpoint"] == f"{base}/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["scopes_supported"]) == {"todos:read", "todos:write", "ai:invoke", "profile:read"}


def test_it_takes_no_issuer_from_the_host_header(anon):
    metadata = anon.get("/.well-known/oauth-authorization-server", HTTP_HOST="localhost").json()
    assert metadata["issuer"] == settings.PUBLIC_BASE_URL


# --- The code flow -----------------------------------------------------------------------------------------


def test_it_sends_a_signed_out_user_to_the_product_sign_in_page(anon):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    response = anon.get(authorize_url(authorize_params(registration["client_id"], challenge)))
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL + "?next=/authorize")


def test_it_issues_a_code_with_iss_and_a_resource_bound_one_hour_token(anon, alice_browser, alice):
    _registration, body = tokens_for(anon, alice_browser)

    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("gw_oat_") and body["refresh_token"].startswith("gw_ort_")
    assert set(body["scope"].split()) == {"todos:read", "todos:write"}
    principal = principal_from_bearer(body["access_token"])
    assert (principal.user, principal.auth_method) == (alice, "oauth")
    assert principal.oauth_client == "Test Connector"
    assert principal.scopes == frozenset({"todos:read", "todos:write"})
    assert {"oauth.client_registered", "oauth.consent_allowed", "oauth.code_issued", "oauth.token_issued"} <= set(
        _actions()
    )


def test_the_authorization_response_carries_state_and_iss(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    params = code_for(alice_browser, registration["client_id"], challenge)
    assert params["state"] == "state-123"
    assert params["iss"] == settings.PUBLIC_BASE_URL
    assert params["code"]


def test_no_token_or_code_reaches_the_audit_trail_and_oauth_tokens_are_masked(anon, alice_browser):
    from apps.audit.masking import mask_audit_text

    registration, body = tokens_for(anon, alice_browser)
    token(anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=registration["client_id"])
    trail = json.dumps(list(AuditEvent.objects.values("data", "target_id", "error_code")))
    for secret in (body["access_token"], body["refresh_token"], registration["registration_access_token"]):
        assert secret not in trail
    assert mask_audit_text(f"leaked {body['access_token']} {body['refresh_token']}") == "leaked [masked] [masked]"


def test_tokens_are_stored_only_as_checksums(anon, alice_browser):
    from oauth2_provider.models import AccessToken, RefreshToken

    _registration, body = tokens_for(anon, alice_browser)
    assert not AccessToken.objects.filter(token=body["access_token"]).exists()
    assert not RefreshToken.objects.filter(token=body["refresh_token"]).exists()
    assert AccessToken.objects.exclude(token="").filter(user__isnull=False).count() == 0


# --- Refusals ----------------------------------------------------------------------------------------------


def test_it_refuses_a_missing_pkce_challenge(anon, alice_browser):
    registration = register(anon)
    params = redirect_params(alice_browser.get(authorize_url(authorize_params(registration["client_id"], None))))
    assert params["error"] == "invalid_request"
    assert params["iss"] == settings.PUBLIC_BASE_URL
    assert not OAuthConnection.objects.exists()


def test_it_refuses_a_plain_pkce_challenge(anon, alice_browser):
    registration = register(anon)
    url = authorize_url(authorize_params(registration["client_id"], "x" * 43, code_challenge_method="plain"))
    params = redirect_params(alice_browser.get(url))
    assert params["error"] == "invalid_request"
    assert "S256" in params["error_description"]


def test_it_refuses_a_challenge_without_a_method(anon, alice_browser):
    registration = register(anon)
    url = authorize_url(authorize_params(registration["client_id"], "x" * 43, code_challenge_method=None))
    assert redirect_params(alice_browser.get(url))["error"] == "invalid_request"


def test_it_refuses_a_wrong_code_verifier(anon, alice_browser):
    _registration, exchange = allowed_code(anon, alice_browser)
    response = token(anon, **{**exchange, "code_verifier": "wrong-" + "v" * 50})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


def test_a_code_used_twice_is_refused_and_its_first_tokens_revoked(anon, alice_browser):
    _registration, exchange = allowed_code(anon, alice_browser)
    first = token(anon, **exchange)
    assert first.status_code == 200
    second = token(anon, **exchange)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    with pytest.raises(Unauthenticated):
        principal_from_bearer(first.json()["access_token"])
    refresh = token(
        anon, grant_type="refresh_token", refresh_token=first.json()["refresh_token"], client_id=exchange["client_id"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert "oauth.code_reused" in _actions()


def test_it_never_redirects_to_an_unregistered_redirect_uri(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    url = authorize_url(
        authorize_params(registration["client_id"], challenge, redirect_uri="https://evil.example/callback")
    )
    response = alice_browser.get(url)
    assert response.status_code == 400
    assert "Location" not in response
    assert b"evil.example" not in response.content
    assert "oauth.authorize_refused" in _actions()


def test_it_never_redirects_for_an_unknown_client(alice_browser):
    _verifier, challenge = pkce_pair()
    response = alice_browser.get(authorize_url(authorize_params("no-such-client", challenge)))
    assert response.status_code == 400
    assert "Location" not in response


def test_a_loopback_redirect_may_use_any_port_but_nothing_else_may_change(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    other_port = code_for(
        alice_browser, registration["client_id"], challenge, redirect_uri="http://127.0.0.1:50123/callback"
    )
    assert other_port["code"]
    other_path = alice_browser.get(
        authorize_url(
            authorize_params(registration["client_id"], challenge, redirect_uri="http://127.0.0.1:50123/other")
        )
    )
    assert other_path.status_code == 400 and "Location" not in other_path


@pytest.mark.parametrize("resource", [None, "https://other.example/mcp", "RESOURCE/extra"])
def test_it_refuses_an_authorization_for_another_resource(anon, alice_browser, resource):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    if resource == "RESOURCE/extra":
        resource = settings.MCP_RESOURCE_URL + "/extra"
    url = authorize_url(authorize_params(registration["client_id"], challenge, resource=resource))
    params = redirect_params(alice_browser.get(url))
    assert params["error"] == "invalid_target"
    assert not OAuthConnection.objects.exists()


def test_it_refuses_a_token_request_without_or_for_another_resource(anon, alice_browser):
    _registration, exchange = allowed_code(anon, alice_browser)
    missing = anon.post("/token", exchange)
    other = anon.post("/token", {**exchange, "resource": "https://other.example/mcp"})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_target")
    assert (other.status_code, other.json()["error"]) == (400, "invalid_target")
    # The code was not spent on the refused requests.
    assert token(anon, **exchange).status_code == 200


def test_a_refresh_token_rotates_and_a_reused_one_revokes_the_grant(anon, alice_browser):
    registration, body = tokens_for(anon, alice_browser)
    client_id = registration["client_id"]
    rotated = token(anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=client_id)
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != body["refresh_token"]
    assert principal_from_bearer(new["access_token"]).user.username == "alice"

    reused = token(anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=client_id)

    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    with pytest.raises(Unauthenticated):
        principal_from_bearer(new["access_token"])
    after = token(anon, grant_type="refresh_token", refresh_token=new["refresh_token"], client_id=client_id)
    assert after.json()["error"] == "invalid_grant"
    assert {"oauth.token_refreshed", "oauth.refresh_reused"} <= set(_actions())


def test_an_oauth_token_costs_one_query_to_authenticate(anon, alice_browser, django_assert_num_queries):
    _registration, body = tokens_for(anon, alice_browser)
    principal_from_bearer(body["access_token"])  # the first use notes when the connection was last used
    with django_assert_num_queries(1):
        principal = principal_from_bearer(body["access_token"])
    assert principal.scopes == frozenset({"todos:read", "todos:write"})


def test_a_revoked_access_token_stops_at_once(anon, alice_browser):
    registration, body = tokens_for(anon, alice_browser)
    response = anon.post(
        "/revoke",
        {"token": body["access_token"], "token_type_hint": "access_token", "client_id": registration["client_id"]},
    )
    assert response.status_code == 200
    with pytest.raises(Unauthenticated):
        principal_from_bearer(body["access_token"])
    refresh = token(
        anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=registration["client_id"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert "oauth.token_revoked" in _actions()


def test_a_token_for_another_resource_is_refused_at_mcp(anon, alice_browser):
    from oauth2_provider.models import AccessToken

    _registration, body = tokens_for(anon, alice_browser)
    AccessToken.objects.filter(user__isnull=False).update(resource=["https://other.example/mcp"])
    with pytest.raises(Unauthenticated) as refused:
        principal_from_bearer(body["access_token"])
    assert refused.value.code == "token_audience"


def test_the_rest_api_refuses_an_oauth_token(anon, alice_browser):
    _registration, body = tokens_for(anon, alice_browser)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    response = api.get("/api/todos/")
    assert response.status_code == 401
    assert "token_audience" in json.dumps(response.json())


def test_a_registration_flood_is_refused_per_address(anon, settings):
    settings.OAUTH_REGISTRATION_RATE = "2/hour"
    register(anon)
    register(anon)
    body = {"client_name": "Flood", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
    response = anon.post("/register", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert "oauth.client_registration_refused" in _actions()


@pytest.mark.parametrize("uri", ["http://example.com/callback", "javascript:alert(1)", "https://x.example/cb#frag"])
def test_it_refuses_to_register_an_unsafe_redirect_uri(anon, uri):
    from oauth2_provider.models import Application

    body = {"client_name": "Bad", "redirect_uris": [uri], "token_endpoint_auth_method": "none"}
    response = anon.post("/register", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert not Application.objects.exists()


def test_a_registration_cannot_be_changed_afterwards(anon):
    registration = register(anon)
    response = anon.put(
        f"/register/{registration['client_id']}",
        data=json.dumps({"redirect_uris": ["https://evil.example/cb"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {registration['registration_access_token']}",
    )
    assert response.status_code == 405


def test_the_registration_access_token_is_no_bearer_token(anon):
    registration = register(anon)
    with pytest.raises(Unauthenticated):
        principal_from_bearer(registration["registration_access_token"])


# --- Consent and scopes -------------------------------------------------------------------------------------


def test_the_consent_page_names_the_client_its_host_the_target_and_the_scopes(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    page = alice_browser.get(authorize_url(authorize_params(registration["client_id"], challenge)))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Test Connector" in html
    assert "registered dynamically" in html
    assert REDIRECT_URI in html
    assert "Read your todos, tags and overview." in html and "todos:write" in html
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:33418" in page["Content-Security-Policy"]
    assert page["Cache-Control"].startswith("no-store") or "no-store" in page["Cache-Control"]


def test_the_consent_form_needs_its_csrf_token(anon, alice):
    registration = register(anon)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    _verifier, challenge = pkce_pair()
    page = strict.get(authorize_url(authorize_params(registration["client_id"], challenge)))
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    response = strict.post("/authorize", {**data, "allow": "1"})
    assert response.status_code == 403
    assert not OAuthConnection.objects.exists()


def test_deny_answers_access_denied_and_remembers_nothing(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    page = alice_browser.get(authorize_url(authorize_params(registration["client_id"], challenge)))
    params = redirect_params(consent_post(alice_browser, page, allow=False))
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.PUBLIC_BASE_URL
    assert not OAuthConnection.objects.exists()
    assert "oauth.consent_denied" in _actions()


def test_consent_is_remembered_and_only_new_scopes_are_asked(anon, alice_browser):
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    code_for(alice_browser, registration["client_id"], challenge, scope="todos:read")

    again = alice_browser.get(authorize_url(authorize_params(registration["client_id"], challenge, scope="todos:read")))
    assert again.status_code == 302 and "code=" in again["Location"]

    more = alice_browser.get(
        authorize_url(authorize_params(registration["client_id"], challenge, scope="todos:read ai:invoke"))
    )
    assert more.status_code == 200
    assert [scope for scope, _words in more.context["new_scopes"]] == ["ai:invoke"]
    assert [scope for scope, _words in more.context["kept_scopes"]] == ["todos:read"]


def test_scopes_are_capped_by_the_role(anon, audrey):
    auditor = signed_in(audrey)
    _registration, body = tokens_for(anon, auditor, scope="todos:read profile:read")
    assert body["scope"] == "profile:read"


def test_a_tampered_consent_form_cannot_raise_scopes_beyond_the_role(anon, audrey):
    auditor = signed_in(audrey)
    registration = register(anon)
    _verifier, challenge = pkce_pair()
    page = auditor.get(authorize_url(authorize_params(registration["client_id"], challenge, scope="profile:read")))
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    data.update(allow="1", scope="profile:read todos:write")
    redirect_params(auditor.post("/authorize", data))
    from oauth2_provider.models import Grant

    assert Grant.objects.get().scope == "profile:read"


def test_role_changes_apply_to_live_oauth_tokens(anon, alice_browser, alice):
    from apps.accounts.services import user_set_role

    _registration, body = tokens_for(anon, alice_browser)
    user_set_role(user=alice, role="auditor")
    assert principal_from_bearer(body["access_token"]).scopes == frozenset()


# --- Connected apps ----------------------------------------------------------------------------------------


def test_disconnect_revokes_every_token_of_the_grant(anon, alice_browser, alice):
    registration, body = tokens_for(anon, alice_browser)
    page = alice_browser.get("/settings/connections/")
    assert page.status_code == 200
    assert "Test Connector" in page.content.decode() and "registered dynamically" in page.content.decode()
    connection = OAuthConnection.objects.get(user=alice)

    response = alice_browser.post(f"/settings/connections/{connection.pk}/disconnect/")

    assert response.status_code == 302
    assert not OAuthConnection.objects.exists()
    with pytest.raises(Unauthenticated):
        principal_from_bearer(body["access_token"])
    refresh = token(
        anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=registration["client_id"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert "oauth.disconnected" in _actions()


def test_nobody_disconnects_another_users_app(anon, alice_browser, bob):
    tokens_for(anon, alice_browser)
    connection = OAuthConnection.objects.get()
    response = signed_in(bob).post(f"/settings/connections/{connection.pk}/disconnect/")
    assert response.status_code == 404
    assert OAuthConnection.objects.exists()


def test_the_setup_page_offers_the_remote_connector_and_links_connected_apps(alice_browser):
    html = alice_browser.get("/settings/").content.decode()
    assert "Remote connector" in html
    assert settings.MCP_RESOURCE_URL in html
    assert "/settings/connections/" in html


# --- Operators and jobs -------------------------------------------------------------------------------------


def test_an_operator_disables_a_client_and_its_tokens_stop(anon, alice_browser, olivia):
    from oauth2_provider.models import Application

    registration, body = tokens_for(anon, alice_browser)
    admin = signed_in(olivia)
    application = Application.objects.get(client_id=registration["client_id"])
    response = admin.post(
        "/admin/oauth2_provider/application/",
        {"action": "disable_clients", "_selected_action": [application.pk]},
    )
    assert response.status_code == 302
    with pytest.raises(Unauthenticated):
        principal_from_bearer(body["access_token"])
    _verifier, challenge = pkce_pair()
    refused = alice_browser.get(authorize_url(authorize_params(registration["client_id"], challenge)))
    assert refused.status_code == 400
    assert "oauth.client_disabled" in _actions()


def test_unused_registrations_expire_and_used_ones_stay(anon, alice_browser, settings):
    import datetime as dt

    from django.utils import timezone
    from oauth2_provider.models import Application

    from apps.accounts.tasks import oauth_unused_clients_delete

    used, _body = tokens_for(anon, alice_browser)
    unused = register(anon)
    Application.objects.update(created=timezone.now() - dt.timedelta(hours=settings.OAUTH_UNUSED_CLIENT_HOURS + 1))

    assert oauth_unused_clients_delete() == 1
    assert set(Application.objects.values_list("client_id", flat=True)) == {used["client_id"]}
    assert unused["client_id"] not in set(Application.objects.values_list("client_id", flat=True))
    assert "oauth.client_expired" in _actions()


def test_authorize_and_token_count_against_the_rate_limits(anon, settings):
    from apps.quotas.selectors import rates_forget

    settings.QUOTA_ANON_RATE = "2/minute"
    settings.QUOTA_ANON_BURST = 2
    rates_forget()
    answers = [anon.post("/token", {"grant_type": "refresh_token"}).status_code for _ in range(4)]
    assert 429 in answers
