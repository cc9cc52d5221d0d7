"""/settings/tokens/: create (shown once), list with the tools each token may call, revoke."""

from __future__ import annotations

import re

import pytest

from apps.accounts import pats
from apps.accounts.models import PersonalAccessToken
from apps.core.errors import Unauthenticated
from apps.web.models import SetupStep

pytestmark = pytest.mark.django_db


def _create(browser, **extra):
    data = {"name": "Claude Desktop", "scopes": ["todos:read", "profile:read"], "expires_in_days": "30", **extra}
    return browser.post("/settings/tokens/", data)


def test_a_new_token_is_shown_once_with_ready_configurations(alice_browser, alice):
    response = _create(alice_browser)
    body = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    plaintext = re.search(r'id="new-token"[^>]*value="(gw_pat_[^"]+)"', body).group(1)
    assert pats.pat_authenticate(raw_token=plaintext).user == alice
    assert body.count(plaintext) >= 4  # the box and the Claude Desktop, Cursor and Inspector configurations
    assert '"url": "http://127.0.0.1:8000/mcp"' in body or "/mcp" in body
    assert plaintext not in alice_browser.get("/settings/tokens/").content.decode()
    assert SetupStep.objects.filter(user=alice, step="token_created").exists()


def test_the_list_shows_scopes_and_the_tools_each_token_may_call(alice_browser, alice):
    pats.pat_create(user=alice, name="reader", scopes=["todos:read"])
    body = alice_browser.get("/settings/tokens/").content.decode()
    assert "reader" in body and "todos:read" in body
    assert "<code>list_todos</code>" in body and "<code>create_todos</code>" not in body


def test_a_refused_token_request_is_explained_on_the_form(alice_browser, audrey):
    from apps.web.tests.conftest import signed_in

    auditor = signed_in(audrey)
    response = _create(auditor, scopes=["todos:write"])
    assert response.status_code == 403 and "Your role does not allow these scopes." in response.content.decode()
    missing = _create(alice_browser, name="")
    assert missing.status_code == 200 and "This field is required." in missing.content.decode()
    assert not PersonalAccessToken.objects.exists()


def test_revoke_asks_first_then_the_token_stops_working(alice_browser, alice):
    token, plaintext = pats.pat_create(user=alice, name="old laptop", scopes=["todos:read"])
    confirm = alice_browser.get(f"/settings/tokens/{token.pk}/revoke/")
    assert confirm.status_code == 200 and "Revoke “old laptop”?" in confirm.content.decode()
    pats.pat_authenticate(raw_token=plaintext)
    alice_browser.post(f"/settings/tokens/{token.pk}/revoke/")
    with pytest.raises(Unauthenticated):
        pats.pat_authenticate(raw_token=plaintext)
