"""Refresh and access tokens in the admin: ids, owners, times and state, never a usable credential."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

REFRESH_TOKENS = "/admin/token_blacklist/outstandingtoken/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def login(client, username: str) -> dict:
    response = client.post("/api/auth/token", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def test_refresh_token_pages_show_the_id_owner_and_times_but_never_the_token(olivia, alice, anon_client):
    tokens = login(anon_client, "alice")
    superuser = User.objects.create_superuser("sam", "sam@example.test", PASSWORD)
    row = OutstandingToken.objects.get(user=alice)

    for viewer in (olivia, superuser):
        client = admin_client(viewer)
        changelist = client.get(REFRESH_TOKENS)
        detail = client.get(f"{REFRESH_TOKENS}{row.pk}/change/")
        searched = client.get(REFRESH_TOKENS, {"q": tokens["refresh"][:40]})
        assert changelist.status_code == detail.status_code == 200
        for page in (changelist.content.decode(), detail.content.decode()):
            assert row.jti in page and "alice" in page
            assert tokens["refresh"] not in page and tokens["refresh"].split(".")[1] not in page
        assert "View Outstanding Token" in detail.content.decode()
        assert row.jti not in searched.content.decode()  # the token's text is not searchable either


def test_simplejwts_own_blacklist_page_is_gone(olivia):
    assert admin_client(olivia).get("/admin/token_blacklist/blacklistedtoken/").status_code == 404


def test_the_revoke_action_ends_the_refresh_token_and_is_audited(olivia, alice, anon_client):
    tokens = login(anon_client, "alice")
    row = OutstandingToken.objects.get(user=alice)

    response = admin_client(olivia).post(
        REFRESH_TOKENS, {"action": "revoke_selected", "_selected_action": [row.pk]}, follow=True
    )

    assert "Revoked 1 refresh token(s)." in response.content.decode()
    refreshed = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    event = AuditEvent.objects.get(action="refresh_token.revoked")
    # The whole session (the token's family) ends; the event names the row the operator chose.
    assert (event.actor_id, event.target_type, event.data["jti"], event.data["owner_id"]) == (
        olivia.pk,
        "refresh_family",
        row.jti,
        alice.pk,
    )
    listing = admin_client(olivia).get(REFRESH_TOKENS, {"o": "5"}).content.decode()
    assert 'alt="True"' in listing  # the revoked column


def test_refresh_token_pages_cannot_be_edited_or_deleted(olivia, alice, anon_client):
    login(anon_client, "alice")
    row = OutstandingToken.objects.get(user=alice)
    client = admin_client(olivia)

    assert client.post(f"{REFRESH_TOKENS}{row.pk}/change/", {"jti": "x"}).status_code == 403
    assert client.get(f"{REFRESH_TOKENS}{row.pk}/delete/").status_code == 403
    assert client.get(f"{REFRESH_TOKENS}add/").status_code == 403


def test_auditors_and_users_cannot_reach_refresh_tokens(audrey, alice):
    for user in (audrey, alice):
        assert admin_client(user).get(REFRESH_TOKENS).status_code in (302, 403)


def test_access_token_pages_are_read_only_with_a_revoke_action(olivia, alice):
    from apps.accounts.services import pat_create

    token, plaintext = pat_create(user=alice, name="Laptop", scopes=["todos:read"])
    client = admin_client(olivia)

    page = client.get(f"/admin/accounts/personalaccesstoken/{token.pk}/change/").content.decode()
    revoked = client.post(
        "/admin/accounts/personalaccesstoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
        follow=True,
    )

    assert "View personal access token" in page and plaintext not in page and token.digest not in page
    assert "Revoked 1 token(s)." in revoked.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
