"""OAuth grants at the events that end or keep a user's credentials: "sign out everywhere" (service and
admin action) and deactivation disconnect every app for good; a password change keeps them and lists
them. Tokens are issued through the real authorization server (oauth_helpers); the live /mcp door is in
test_oauth_live.py."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import OAuthConnection
from apps.accounts.oauth.tokens import oauth_access_authenticate
from apps.accounts.pats import TokenRefused
from apps.accounts.principal import principal_from_bearer
from apps.accounts.services import user_set_active, user_sign_out_everywhere
from apps.accounts.tests.oauth_helpers import (
    REDIRECT_URI,
    authorize_params,
    authorize_url,
    code_for,
    pkce_pair,
    register,
    token,
    tokens_for,
)
from apps.accounts.tokens import jwt_pair_issue
from apps.audit.models import AuditEvent
from apps.core.errors import Unauthenticated
from apps.web.tests.conftest import signed_in
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-7"


@pytest.fixture
def anon() -> Client:
    return Client()


def _refresh(anon: Client, registration: dict, body: dict):
    return token(
        anon, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=registration["client_id"]
    )


def _assert_dead(anon: Client, registration: dict, body: dict) -> None:
    """The access token is refused where /mcp checks it, and the refresh token no longer refreshes."""
    with pytest.raises(Unauthenticated):
        principal_from_bearer(body["access_token"])
    with pytest.raises(TokenRefused):
        oauth_access_authenticate(raw_token=body["access_token"])
    refreshed = _refresh(anon, registration, body)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def _pending_code(anon: Client, browser: Client, name: str) -> dict:
    """A second client the user allowed, whose code is not exchanged yet: the exchange's fields."""
    registration = register(anon, client_name=name)
    verifier, challenge = pkce_pair()
    params = code_for(browser, registration["client_id"], challenge)
    return {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": registration["client_id"],
        "code_verifier": verifier,
    }


def test_sign_out_everywhere_disconnects_every_app_and_ends_every_grant(anon, alice, bob, olivia):
    browser = signed_in(alice)
    registration, body = tokens_for(anon, browser)
    exchange = _pending_code(anon, browser, "Pending Connector")
    bob_registration, bob_body = tokens_for(anon, signed_in(bob))
    assert principal_from_bearer(body["access_token"]).user == alice

    user_sign_out_everywhere(user=alice, actor=olivia)

    _assert_dead(anon, registration, body)
    code_exchange = token(anon, **exchange)
    assert code_exchange.status_code == 400 and code_exchange.json()["error"] == "invalid_grant"
    # The connections go with the grants: nothing is listed, and no app comes back without consent.
    assert not OAuthConnection.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="user.signed_out_everywhere")
    assert event.actor == olivia
    assert event.data["oauth_apps_disconnected"] == ["Pending Connector", "Test Connector"]
    for secret in (body["access_token"], body["refresh_token"], exchange["code"]):
        assert secret not in str(event.data)
    # Another user's app is untouched.
    assert principal_from_bearer(bob_body["access_token"]).user == bob
    assert _refresh(anon, bob_registration, bob_body).status_code == 200
    assert OAuthConnection.objects.filter(user=bob).count() == 1


def test_signing_in_again_after_sign_out_everywhere_asks_for_consent_again(anon, alice, olivia):
    browser = signed_in(alice)
    registration, _body = tokens_for(anon, browser)

    user_sign_out_everywhere(user=alice, actor=olivia)

    _verifier, challenge = pkce_pair()
    page = signed_in(alice).get(authorize_url(authorize_params(registration["client_id"], challenge)))
    assert page.status_code == 200 and "form" in page.context


def test_the_admin_sign_out_everywhere_action_ends_the_users_oauth_grants(anon, alice, olivia):
    registration, body = tokens_for(anon, signed_in(alice))

    response = signed_in(olivia).post(
        "/admin/accounts/user/", {"action": "sign_out_everywhere", "_selected_action": [alice.pk]}, follow=True
    )

    assert "Signed out 1 account(s) everywhere." in response.content.decode()
    _assert_dead(anon, registration, body)
    assert not OAuthConnection.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="user.signed_out_everywhere", target_id=str(alice.pk))
    assert event.data["oauth_apps_disconnected"] == ["Test Connector"]


def test_a_reactivated_user_gets_no_oauth_grant_back(anon, alice, olivia):
    registration, body = tokens_for(anon, signed_in(alice))

    user_set_active(user=alice, is_active=False, actor=olivia)
    user_set_active(user=alice, is_active=True, actor=olivia)

    _assert_dead(anon, registration, body)
    assert not OAuthConnection.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.actor == olivia and event.data["oauth_apps_disconnected"] == ["Test Connector"]


def test_deactivation_by_a_plain_save_ends_the_oauth_grants_too(anon, alice):
    registration, body = tokens_for(anon, signed_in(alice))
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    alice.is_active = True
    alice.save(update_fields=["is_active"])
    _assert_dead(anon, registration, body)


def test_a_password_change_keeps_connected_apps_and_lists_them(anon, alice):
    registration, body = tokens_for(anon, signed_in(alice))
    connection = OAuthConnection.objects.get(user=alice)
    caller = APIClient()
    caller.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=alice).access}")

    response = caller.post(
        "/api/auth/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    listed = response.json()["connected_apps"]
    assert [(app["id"], app["name"], app["host"]) for app in listed] == [
        (connection.pk, "Test Connector", "registered dynamically")
    ]
    assert sorted(listed[0]["scopes"]) == ["todos:read", "todos:write"]
    for secret in (body["access_token"], body["refresh_token"]):
        assert secret not in response.content.decode()
    # The app keeps working: its access token is accepted and its refresh token refreshes.
    assert principal_from_bearer(body["access_token"]).user == alice
    assert _refresh(anon, registration, body).status_code == 200
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.data["oauth_apps_active"] == [{"id": connection.pk, "name": "Test Connector"}]
    assert body["access_token"] not in str(event.data) and body["refresh_token"] not in str(event.data)


def test_the_password_change_page_lists_connected_apps(anon, alice):
    browser = signed_in(alice)
    tokens_for(anon, browser)

    page = browser.post("/accounts/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    html = page.content.decode()
    assert page.status_code == 200 and "Apps still connected" in html
    assert "Test Connector" in html and "/settings/connections/" in html


def test_the_password_change_page_says_when_no_app_is_connected(alice):
    page = signed_in(alice).post("/accounts/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert "You have no connected apps." in page.content.decode()
