"""One list of doors (apps.core.request_context.DOORS): the pages are door `web` whether they sign
someone in, make a token or try a tool, and every consumer of the list accepts every door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core.request_context import DOOR_BY_TRANSPORT, DOORS, door_for_path
from apps.web.forms import ActivityFilterForm
from conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def test_a_sign_in_on_the_page_is_audited_as_door_web(alice):
    Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert AuditEvent.objects.get(action="auth.login", actor_id=alice.pk).door == "web"


def test_a_token_made_on_the_settings_page_is_audited_as_door_web(alice):
    browser = Client()
    browser.force_login(alice)
    browser.post("/settings/tokens/", {"name": "Claude Desktop", "scopes": ["todos:read"], "expires_in_days": "30"})

    created = AuditEvent.objects.filter(category="token", actor_id=alice.pk).exclude(door="")
    assert created.exists() and {event.door for event in created} == {"web"}


def test_the_api_and_the_admin_keep_their_own_doors():
    assert [door_for_path(p) for p in ("/api/todos/", "/admin/", "/mcp", "/settings/keys/", "/")] == [
        "rest",
        "admin",
        "mcp",
        "web",
        "web",
    ]


@pytest.mark.parametrize("door", DOORS)
def test_the_audit_api_filters_by_every_door(audrey, door):
    response = client_for(audrey).get(f"/api/audit/logs?door={door}")

    assert response.status_code == 200, response.content


def test_the_web_door_filter_finds_what_the_pages_did(alice, audrey):
    Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    rows = client_for(audrey).get("/api/audit/logs?door=web").json()["logs"]
    assert any(row["action"] == "auth.login" and row["door"] == "web" for row in rows)


def test_the_activity_page_offers_each_door_once():
    offered = [value for value, _ in ActivityFilterForm.base_fields["door"].choices if value]
    assert offered == list(DOORS)


def test_every_transport_is_a_door():
    assert set(DOOR_BY_TRANSPORT.values()) <= set(DOORS)


def test_the_audit_docs_list_exactly_the_doors():
    text = (ROOT / "docs" / "audit.md").read_text()
    table = text.split("<!-- doors -->")[1].split("<!-- /doors -->")[0]
    assert re.findall(r"^\| `([a-z]+)` \|", table, re.M) == list(DOORS)
