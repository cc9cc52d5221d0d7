"""Credential changes revoke what was issued before (issue 7.6), whichever door changed them."""

from __future__ import annotations

import getpass

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.services import pat_create, user_sign_out_everywhere
from apps.accounts.tokens import access_token_authenticate, jwt_pair_issue
from apps.audit.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

PASSWORD_URL = "/api/auth/password"
NEW_PASSWORD = "a-brand-new-passphrase-7"


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _me(token: str) -> int:
    return _bearer(token).get("/api/auth/me").status_code


def _refresh(refresh: str) -> int:
    return APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code


def _login(username: str, password: str = PASSWORD) -> int:
    return APIClient().post("/api/auth/token", {"username": username, "password": password}, format="json").status_code


def _sessions(user: User) -> tuple[str, str, str]:
    """(access, refresh, personal access token) issued before the change."""
    pair = jwt_pair_issue(user=user)
    _row, pat = pat_create(user=user, name="desktop", scopes=["profile:read"])
    assert _me(str(pair.access)) == 200 and _me(pat) == 200
    return str(pair.access), str(pair.refresh), pat


def test_changing_the_password_through_the_api_ends_every_jwt_session_and_lists_the_tokens_left(alice):
    access, refresh, pat = _sessions(alice)
    caller = jwt_pair_issue(user=alice)

    response = _bearer(str(caller.access)).post(
        PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert response["Cache-Control"] == "no-store"
    # Everything issued before is dead, the caller's own session included ...
    for old in (access, str(caller.access)):
        assert _me(old) == 401
    assert _refresh(refresh) == 401 and _refresh(str(caller.refresh)) == 401
    # ... the caller carries on with the new pair ...
    assert _me(body["access"]) == 200 and _refresh(body["refresh"]) == 200
    # ... and personal access tokens survive, listed so the user can revoke any they do not know.
    assert _me(pat) == 200
    assert [item["prefix"] for item in body["access_tokens"]] == ["_".join(pat.split("_")[:3])]
    assert pat not in response.content.decode()
    assert _login("alice") == 401 and _login("alice", NEW_PASSWORD) == 200
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.actor == alice and NEW_PASSWORD not in str(event.data) and PASSWORD not in str(event.data)


def test_the_password_endpoint_checks_the_old_password_and_the_validators(alice, alice_client):
    wrong = alice_client.post(PASSWORD_URL, {"old_password": "nope", "new_password": NEW_PASSWORD}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid_password"
    weak = alice_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": "alice"}, format="json")
    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["details"]
    unknown = alice_client.post(PASSWORD_URL, {"old_password": PASSWORD, "password": NEW_PASSWORD}, format="json")
    assert unknown.status_code == 400
    assert _login("alice") == 200


def test_the_password_endpoint_needs_a_login_and_refuses_personal_access_tokens(alice, anon_client):
    assert anon_client.post(PASSWORD_URL, {}, format="json").status_code == 401
    _row, pat = pat_create(user=alice, name="cli", scopes=["profile:read"])
    refused = _bearer(pat).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "token_not_allowed"


@override_settings(PASSWORD_CHANGE_FAILURE_LIMIT="3 per 15 minutes")
def test_a_stolen_access_token_is_no_password_oracle(alice, alice_client):
    for guess in range(3):
        alice_client.post(PASSWORD_URL, {"old_password": f"guess-{guess}", "new_password": NEW_PASSWORD}, format="json")
    right = alice_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert right.status_code == 429
    assert right.json()["error"]["code"] == "rate_limited"
    assert int(right["Retry-After"]) > 0
    assert _login("alice") == 200


def test_set_password_and_save_in_a_shell_revokes_earlier_tokens(alice):
    access, refresh, _pat = _sessions(alice)
    user = User.objects.get(pk=alice.pk)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert _me(access) == 401
    assert _refresh(refresh) == 401


def test_a_queryset_update_of_the_password_revokes_earlier_tokens_too(alice):
    access, refresh, _pat = _sessions(alice)
    User.objects.filter(pk=alice.pk).update(password="!unusable")
    assert _me(access) == 401
    assert _refresh(refresh) == 401


def test_manage_py_changepassword_revokes_earlier_tokens(alice, monkeypatch):
    access, refresh, _pat = _sessions(alice)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=None)
    assert _me(access) == 401
    assert _refresh(refresh) == 401
    assert _login("alice", NEW_PASSWORD) == 200


def test_changing_the_password_in_the_admin_revokes_earlier_tokens(olivia):
    access, refresh, _pat = _sessions(olivia)
    admin = Client()
    admin.force_login(olivia)
    response = admin.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _me(access) == 401
    assert _refresh(refresh) == 401


def test_deactivation_revokes_jwts_and_personal_access_tokens_for_good(alice):
    access, refresh, pat = _sessions(alice)
    alice.is_active = False
    alice.save()
    assert _me(access) == 401 and _me(pat) == 401 and _refresh(refresh) == 401
    assert PersonalAccessToken.objects.get(user=alice).revoked_at is not None
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(alice.pk)).count() == 1

    # Reactivating brings none of them back.
    alice.is_active = True
    alice.save()
    assert _me(access) == 401 and _me(pat) == 401 and _refresh(refresh) == 401
    assert _login("alice") == 200


def test_deactivation_through_save_with_update_fields_counts_too(alice):
    access, _refresh_token, pat = _sessions(alice)
    user = User.objects.get(pk=alice.pk)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert _me(access) == 401 and _me(pat) == 401


def test_sign_out_everywhere_ends_jwts_tokens_and_browser_sessions_but_keeps_the_password(olivia, alice):
    access, refresh, pat = _sessions(olivia)
    browser = Client()
    browser.force_login(olivia)
    assert browser.get("/admin/").status_code == 200
    bystander_access, _bystander_refresh, bystander_pat = _sessions(alice)

    user_sign_out_everywhere(user=olivia, actor=alice)

    assert _me(access) == 401 and _me(pat) == 401 and _refresh(refresh) == 401
    assert browser.get("/admin/").status_code == 302
    assert _login("olivia") == 200
    event = AuditEvent.objects.get(action="user.signed_out_everywhere")
    assert event.actor == alice and event.target_id == str(olivia.pk)
    assert _me(bystander_access) == 200 and _me(bystander_pat) == 200


def test_verifying_an_access_token_is_one_query(alice, django_assert_num_queries):
    access = str(jwt_pair_issue(user=alice).access)
    with django_assert_num_queries(1):
        user, _token = access_token_authenticate(raw_token=access)
    assert user.pk == alice.pk


def test_the_deactivation_service_records_who_did_it(alice, olivia):
    from apps.accounts.services import user_set_active

    access, _refresh_token, pat = _sessions(alice)
    user_set_active(user=alice, is_active=False, actor=olivia)
    assert _me(access) == 401 and _me(pat) == 401
    assert AuditEvent.objects.get(action="user.deactivated").actor == olivia
    user_set_active(user=alice, is_active=True, actor=olivia)
    assert AuditEvent.objects.get(action="user.activated").actor == olivia
    assert _me(access) == 401 and _me(pat) == 401
