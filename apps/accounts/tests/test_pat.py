"""Personal access tokens: shown once, stored as a digest, scoped, expiring, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import PersonalAccessToken
from apps.accounts.services import pat_authenticate, pat_create, pat_revoke, user_set_role
from apps.audit.models import AuditEvent
from apps.core.errors import Forbidden, InvalidInput, Unauthenticated
from tests.startup import start_settings

pytestmark = pytest.mark.django_db

TOKENS_URL = "/api/auth/tokens"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_creating_a_token_shows_it_once(alice_client):
    response = alice_client.post(TOKENS_URL, {"name": "laptop", "scopes": ["todos:read"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith(body["prefix"] + "_")
    assert body["prefix"].startswith("gw_pat_")
    assert body["scopes"] == ["todos:read"]
    assert response["Cache-Control"] == "no-store"
    listed = alice_client.get(TOKENS_URL).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "token" not in listed[0]
    assert body["token"] not in str(listed)
    assert "digest" not in listed[0]


def test_only_a_peppered_digest_is_stored(alice, settings):
    token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    secret = plaintext.split("_", 3)[3]
    expected = hmac.new(settings.PAT_PEPPER.encode(), secret.encode(), hashlib.sha256).hexdigest()
    assert token.digest == expected
    assert token.pepper_id == settings.PAT_PEPPER_ID
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_personalaccesstoken")
        rows = cursor.fetchall()
    assert secret not in str(rows)
    assert plaintext not in str(rows)


def test_a_token_authenticates_rest_and_records_last_use(alice):
    token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read", "profile:read"])
    assert token.last_used_at is None
    response = bearer(plaintext).get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < dt.timedelta(minutes=1)


def test_a_wrong_secret_is_refused(alice):
    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    forged = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    response = bearer(forged).get("/api/todos")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")
    event = AuditEvent.objects.filter(action="access_token.authentication_failed").latest("id")
    assert event.outcome == "denied"
    assert forged not in str(event.data)
    assert forged.split("_")[-1] not in str(event.data)


@pytest.mark.parametrize("raw", ["gw_pat_", "gw_pat_zzzz_abc", "gw_pat_0123456789ab_", "gw_pat_0123456789ab_nosuch"])
def test_malformed_or_unknown_tokens_are_refused(db, raw):
    with pytest.raises(Unauthenticated) as caught:
        pat_authenticate(raw_token=raw)
    assert caught.value.code == "token_invalid"


def test_an_expired_token_is_refused(alice):
    token, plaintext = pat_create(
        user=alice, name="cli", scopes=["todos:read"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = bearer(plaintext).get("/api/todos")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_expiry_can_be_given_in_days(alice_client):
    body = alice_client.post(
        TOKENS_URL, {"name": "ci", "scopes": ["todos:read"], "expires_in_days": 7}, format="json"
    ).json()
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - timezone.now() <= dt.timedelta(days=7)


def test_an_expiry_in_the_past_is_refused(alice):
    with pytest.raises(InvalidInput):
        pat_create(user=alice, name="cli", scopes=["todos:read"], expires_at=timezone.now() - dt.timedelta(days=1))


def test_a_revoked_token_is_refused_and_the_revocation_is_audited(alice, alice_client):
    body = alice_client.post(TOKENS_URL, {"name": "cli", "scopes": ["todos:read"]}, format="json").json()
    assert bearer(body["token"]).get("/api/todos").status_code == 200
    assert alice_client.delete(f"{TOKENS_URL}/{body['id']}").status_code == 204
    response = bearer(body["token"]).get("/api/todos")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    assert alice_client.get(f"{TOKENS_URL}/{body['id']}").json()["status"] == "revoked"
    created = AuditEvent.objects.get(action="access_token.created")
    revoked = AuditEvent.objects.get(action="access_token.revoked")
    assert created.actor == alice and revoked.actor == alice
    assert body["token"] not in str(created.data) + str(revoked.data)


def test_another_users_token_is_404(alice, bob_client):
    token, _ = pat_create(user=alice, name="cli", scopes=["todos:read"])
    assert bob_client.get(f"{TOKENS_URL}/{token.pk}").status_code == 404
    assert bob_client.delete(f"{TOKENS_URL}/{token.pk}").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert bob_client.get(TOKENS_URL).json() == []


def test_token_endpoints_need_authentication(anon_client):
    assert anon_client.get(TOKENS_URL).status_code == 401
    assert anon_client.post(TOKENS_URL, {"name": "x", "scopes": ["todos:read"]}, format="json").status_code == 401


def test_a_token_cannot_mint_or_revoke_tokens(alice):
    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read", "todos:write", "profile:read"])
    client = bearer(plaintext)
    assert client.post(TOKENS_URL, {"name": "more", "scopes": ["todos:write"]}, format="json").status_code == 403
    assert client.get(TOKENS_URL).status_code == 403
    assert PersonalAccessToken.objects.filter(user=alice).count() == 1


def test_unknown_and_unearned_scopes_are_refused(alice, audrey, alice_client):
    response = alice_client.post(TOKENS_URL, {"name": "x", "scopes": ["admin:all"]}, format="json")
    assert response.status_code == 400
    with pytest.raises(Forbidden):
        pat_create(user=audrey, name="x", scopes=["todos:write"])
    assert pat_create(user=audrey, name="x", scopes=["profile:read"])[0].scopes == ["profile:read"]


def test_a_tokens_scopes_shrink_with_the_users_role(alice):
    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    assert bearer(plaintext).get("/api/todos").status_code == 200
    user_set_role(user=alice, role="auditor")
    assert bearer(plaintext).get("/api/todos").status_code == 403


def test_an_inactive_users_token_is_refused(alice):
    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert bearer(plaintext).get("/api/todos").status_code == 401


def test_revoking_twice_keeps_the_first_time(alice):
    token, _ = pat_create(user=alice, name="cli", scopes=["todos:read"])
    first = pat_revoke(token=token).revoked_at
    assert pat_revoke(token=token).revoked_at == first
    assert AuditEvent.objects.filter(action="access_token.revoked").count() == 1


def test_tokens_survive_a_pepper_rotation_and_move_to_the_new_pepper(alice, settings):
    token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    old_id, old_pepper = settings.PAT_PEPPER_ID, settings.PAT_PEPPER
    settings.PAT_PEPPER_ID = "2"
    settings.PAT_PEPPER = "n" * 40
    settings.PAT_PEPPERS_PREVIOUS = {old_id: old_pepper}
    assert pat_authenticate(raw_token=plaintext).pk == token.pk
    token.refresh_from_db()
    assert token.pepper_id == "2"
    settings.PAT_PEPPERS_PREVIOUS = {}
    assert pat_authenticate(raw_token=plaintext).pk == token.pk


def test_a_token_from_a_retired_pepper_is_refused(alice, settings):
    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read"])
    settings.PAT_PEPPER_ID = "2"
    settings.PAT_PEPPER = "n" * 40
    settings.PAT_PEPPERS_PREVIOUS = {}
    with pytest.raises(Unauthenticated):
        pat_authenticate(raw_token=plaintext)


def test_the_admin_lists_tokens_without_digests_and_can_revoke(alice, olivia):
    from django.test import Client

    token, _ = pat_create(user=alice, name="laptop", scopes=["todos:read"])
    client = Client()
    client.force_login(olivia)
    page = client.get(f"/admin/accounts/personalaccesstoken/{token.pk}/change/")
    assert page.status_code == 200
    assert token.digest.encode() not in page.content
    assert b"gw_pat_" + token.lookup_id.encode() in page.content
    response = client.post(
        "/admin/accounts/personalaccesstoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.get(action="access_token.revoked").actor == olivia


def test_a_token_never_reaches_the_audit_trail_usage_rows_or_logs(alice, caplog):
    from apps.mcp_tools.models import ToolCall

    caplog.set_level("DEBUG")
    _token, plaintext = pat_create(user=alice, name="canary", scopes=["todos:read"])
    secret = plaintext.split("_", 3)[3]
    client = bearer(plaintext)
    invoke = "/api/mcp/tools/invoke"
    assert client.post(invoke, {"tool_name": "list_todos", "parameters": {}}, format="json").status_code == 200
    assert client.post(invoke, {"tool_name": "create_todos", "parameters": {}}, format="json").status_code == 403
    assert client.post(invoke, {"tool_name": "get_todo", "parameters": {"id": 1}}, format="json").status_code == 404
    assert bearer(plaintext + "x").get("/api/todos").status_code == 401
    stored = [str(event.data) for event in AuditEvent.objects.all()]
    stored += [str(row) for row in ToolCall.objects.values()]
    stored += [record.getMessage() for record in caplog.records]
    assert stored
    for text in stored:
        assert secret not in text
        assert plaintext not in text


def test_a_token_may_list_provider_keys_with_profile_read_but_never_change_them(alice):
    reader = bearer(pat_create(user=alice, name="r", scopes=["profile:read"])[1])
    assert reader.get("/api/api-keys").status_code == 200
    todos_only = bearer(pat_create(user=alice, name="t", scopes=["todos:read", "todos:write", "ai:invoke"])[1])
    assert todos_only.get("/api/api-keys").status_code == 403
    body = {"provider": "openai", "api_key": "sk-proj-" + "a" * 48}
    for client in (reader, todos_only):
        response = client.post("/api/api-keys", body, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "token_not_allowed"


@pytest.mark.own_environment
def test_production_needs_a_pat_pepper_of_32_characters(tmp_path):
    missing = start_settings(tmp_path, PAT_PEPPER=None)
    assert missing.returncode != 0
    assert "PAT_PEPPER must be set in production" in missing.stderr
    short = start_settings(tmp_path, PAT_PEPPER="too-short")
    assert "PAT_PEPPER must be at least 32 characters" in short.stderr
    assert "too-short" not in short.stderr
    assert start_settings(tmp_path, PAT_PEPPER="q" * 40).returncode == 0
    assert not (tmp_path / "dev-pat-pepper").exists()


def test_a_view_that_declares_no_scope_refuses_tokens_but_not_jwts(alice):
    # Safe by default: an endpoint added without read_scope/write_scope is closed to tokens.
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from apps.accounts.tokens import jwt_pair_issue

    class Undeclared(APIView):
        def get(self, request):
            return Response({"ok": True})

    _token, plaintext = pat_create(user=alice, name="cli", scopes=["todos:read", "profile:read"])
    factory = APIRequestFactory()
    with_token = Undeclared.as_view()(factory.get("/x", HTTP_AUTHORIZATION=f"Bearer {plaintext}"))
    assert with_token.status_code == 403
    assert with_token.data["error"]["code"] == "token_not_allowed"
    with_jwt = Undeclared.as_view()(factory.get("/x", HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=alice).access}"))
    assert with_jwt.status_code == 200
