"""Every page: who may see it, what it refuses, the headers it carries, and that no secret leaks."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.accounts import pats
from apps.chat.models import Conversation

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password-reset/"]
SIGNED_IN_PAGES = [
    "/settings/",
    "/settings/keys/",
    "/settings/tokens/",
    "/settings/usage/",
    "/settings/activity/",
    "/chat/",
    "/accounts/password/",
]


def _object_pages(key_id: int, token_id: int) -> dict[str, list[str]]:
    """Pages about one object -> the methods they answer (alice's one conversation included)."""
    conversation = Conversation.objects.get(title="alice's chat")
    return {
        f"/chat/{conversation.pk}/": ["get", "post"],
        f"/settings/keys/{key_id}/rotate/": ["get", "post"],
        f"/settings/keys/{key_id}/expiry/": ["get", "post"],
        f"/settings/keys/{key_id}/delete/": ["get", "post"],
        f"/settings/keys/{key_id}/validate/": ["post"],
        f"/settings/keys/{key_id}/default/": ["post"],
        f"/settings/tokens/{token_id}/revoke/": ["get", "post"],
    }


@pytest.fixture
def alices_objects(alice, store_key):
    key, plaintext = store_key(alice)
    token, token_plaintext = pats.pat_create(user=alice, name="laptop", scopes=["todos:read"])
    Conversation.objects.create(user=alice, title="alice's chat")
    return key, token, plaintext, token_plaintext


def test_public_pages_render_with_a_content_security_policy(client):
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "<script>" not in response.content.decode()  # no inline script anywhere


def test_every_signed_in_page_sends_anonymous_visitors_to_the_login_page(client, alices_objects):
    key, token, _, _ = alices_objects
    for path in SIGNED_IN_PAGES + [p for p, methods in _object_pages(key.pk, token.pk).items() if "get" in methods]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/accounts/login/?next={path}"


def test_signed_in_pages_carry_the_policy_and_are_not_cached(alice_browser, alices_objects):
    key, token, _, _ = alices_objects
    for path in SIGNED_IN_PAGES + [p for p, methods in _object_pages(key.pk, token.pk).items() if "get" in methods]:
        response = alice_browser.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
        assert "<script>" not in response.content.decode()


def test_another_users_key_and_token_are_not_found(bob_browser, alices_objects):
    key, token, _, _ = alices_objects
    for path, methods in _object_pages(key.pk, token.pk).items():
        for method in methods:
            response = getattr(bob_browser, method)(path, {"api_key": "x", "expires_at": ""})
            assert response.status_code == 404, (method, path)
    key.refresh_from_db()
    token.refresh_from_db()
    assert key.status == "active" and token.revoked_at is None
    assert not Conversation.objects.get(title="alice's chat").messages.exists()


def test_every_form_needs_the_csrf_token(alice, alices_objects):
    key, token, _, _ = alices_objects
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    posts = ["/settings/", "/settings/keys/", "/settings/tokens/", "/chat/", "/accounts/password/", "/accounts/logout/"]
    posts += [path for path, methods in _object_pages(key.pk, token.pk).items() if "post" in methods]
    for path in posts:
        assert browser.post(path, {"action": "configured"}).status_code == 403, path
    anonymous = Client(enforce_csrf_checks=True)
    for path in ["/accounts/login/", "/accounts/signup/", "/accounts/password-reset/"]:
        assert anonymous.post(path, {}).status_code == 403, path
    key.refresh_from_db()
    token.refresh_from_db()
    assert key.status == "active" and token.revoked_at is None


def test_no_page_shows_a_stored_key_or_a_token_after_its_creation(alice_browser, alices_objects):
    key, token, key_plaintext, token_plaintext = alices_objects
    secret_part_of_token = token_plaintext[len(token.prefix) + 1 :]
    control = alice_browser.get("/settings/keys/").content.decode()
    assert key.mask in control and token.prefix in alice_browser.get("/settings/tokens/").content.decode()
    for path in SIGNED_IN_PAGES + [p for p, methods in _object_pages(key.pk, token.pk).items() if "get" in methods]:
        body = alice_browser.get(path).content.decode()
        assert key_plaintext not in body and key_plaintext[8:24] not in body, path
        assert secret_part_of_token not in body, path


def test_the_home_page_says_what_the_product_is_and_where_to_start(client, alice_browser):
    body = client.get("/").content.decode()
    assert "Sign in" in body and "/accounts/signup/" in body and "/api/docs/" in body and "/mcp" in body
    assert "Continue your setup" in alice_browser.get("/").content.decode()


def test_pages_have_one_main_landmark_a_skip_link_and_labelled_fields(client, alice_browser):
    pages = [(client, "/accounts/signup/"), (alice_browser, "/settings/keys/"), (alice_browser, "/settings/")]
    for browser, path in pages:
        body = browser.get(path).content.decode()
        assert body.count("<main") == 1 and 'href="#main"' in body and "<h1" in body
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', body):
            if f'id="{field_id}"' in body and 'type="hidden"' not in body.split(f'id="{field_id}"')[0][-200:]:
                assert f'for="{field_id}"' in body, (path, field_id)
