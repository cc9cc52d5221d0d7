"""/settings/activity/: the caller's own audit trail, filtered, paged and exported (apps.audit's selectors)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.web.tests.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(alice, bob):
    audit_event_record(action="provider_key.created", actor=alice, target_type="provider_key", target_id=7, door="rest")
    audit_event_record(action="auth.login", actor=alice, outcome="failure", error_code="bad_password", door="rest")
    audit_event_record(action="tool.invoked", actor=alice, target_type="tool", target_id="create_todos", door="mcp")
    audit_event_record(action="provider_key.created", actor=bob, target_type="provider_key", target_id=8, door="rest")


def _export(browser, query: str) -> str:
    response = browser.get(f"/settings/activity/export/?{query}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_it_lists_the_callers_own_events_and_not_anyone_elses(alice_browser, trail):
    body = alice_browser.get("/settings/activity/").content.decode()
    assert "<code>provider_key.created</code>" in body and "<code>auth.login</code>" in body
    assert "<code>tool.invoked</code>" in body and "tool create_todos" in body
    assert "provider_key 7" in body and "provider_key 8" not in body
    # The fourth: signing in (force_login) is an event too.
    assert 'Events <span class="detail">(4)</span>' in body


def test_an_operator_sees_only_their_own_events_here(olivia, trail):
    audit_event_record(action="auth.login", actor=olivia, door="rest")
    body = signed_in(olivia).get("/settings/activity/?action=auth.login").content.decode()
    assert "(2)</span>" in body and "provider_key 7" not in body


def test_it_filters_by_category_outcome_door_action_and_days(alice_browser, trail):
    def shown(query: str) -> str:
        return alice_browser.get(f"/settings/activity/?{query}").content.decode()

    assert "(1)</span>" in shown("outcome=failure") and "bad_password" in shown("outcome=failure")
    assert "(1)</span>" in shown("category=tool")
    assert "(1)</span>" in shown("door=mcp")
    assert "(1)</span>" in shown("action=provider_key.created")
    today = timezone.now().astimezone(dt.UTC).date()
    assert "(4)</span>" in shown(f"since={today}&until={today}")
    assert "(0)</span>" in shown(f"until={today - dt.timedelta(days=1)}")


def test_bad_filters_are_shown_next_to_their_fields(alice_browser, trail):
    response = alice_browser.get("/settings/activity/?since=2026-05-02&until=2026-05-01&door=nowhere")
    body = response.content.decode()
    assert response.status_code == 200
    assert "The end is before the start." in body and "Select a valid choice." in body
    assert "No events match." in body
    assert alice_browser.get("/settings/activity/export/?since=yesterday").status_code == 400


def test_it_pages_older_events_with_a_cursor(alice_browser, alice, settings, monkeypatch):
    monkeypatch.setattr("apps.web.views.activity.PAGE_SIZE", 2)
    ids = [audit_event_record(action=f"todo.created.{n}", actor=alice, door="rest").pk for n in range(3)]
    first = alice_browser.get("/settings/activity/?category=todo").content.decode()
    assert "todo.created.2" in first and "todo.created.0" not in first
    assert f"category=todo&amp;before={ids[1]}" in first
    older = alice_browser.get(f"/settings/activity/?category=todo&before={ids[1]}").content.decode()
    assert "todo.created.0" in older and "todo.created.2" not in older and "Older events" not in older


def test_it_exports_the_filtered_events_as_csv_and_ndjson(alice_browser, trail):
    rows = list(csv.DictReader(io.StringIO(_export(alice_browser, "category=key&format=csv"))))
    assert [(r["action"], r["target_id"]) for r in rows] == [("provider_key.created", "7")]
    lines = [json.loads(line) for line in _export(alice_browser, "format=ndjson").splitlines()]
    assert len(lines) == 4
    assert {line["action"] for line in lines} == {"provider_key.created", "auth.login", "tool.invoked"}
    assert all(line["actor_label"] == "alice" for line in lines)
    response = alice_browser.get("/settings/activity/export/?format=ndjson")
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="activity-')
    assert alice_browser.get("/settings/activity/export/?format=xml").status_code == 400


def test_events_keep_their_order_newest_first(alice_browser, trail):
    body = alice_browser.get("/settings/activity/").content.decode()
    codes = ["<code>tool.invoked</code>", "<code>auth.login</code>", "<code>provider_key.created</code>"]
    assert body.index(codes[0]) < body.index(codes[1]) < body.index(codes[2])
    assert AuditEvent.objects.filter(actor_label="bob").count() == 1


def test_the_csv_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(alice, alice_browser):
    for start in ("=", "+", "-", "@", "\t", "\r"):
        audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=f"{start}SUM(A1:A9)")

    rows = list(csv.DictReader(io.StringIO(_export(alice_browser, "format=csv"), newline="")))
    targets = sorted(row["target_id"] for row in rows if row["action"] == "todo.created")
    assert targets == sorted(f"'{start}SUM(A1:A9)" for start in ("=", "+", "-", "@", "\t", "\r"))
    lines = [json.loads(line) for line in _export(alice_browser, "format=ndjson").splitlines()]
    assert "=SUM(A1:A9)" in {line["target_id"] for line in lines}


def test_each_event_shows_its_integrity_and_a_forged_one_can_be_found(alice, alice_browser):
    from apps.audit.chain import audit_chain_seal
    from apps.audit.tests.conftest import insert_copy

    genuine = audit_event_record(action="provider_key.created", actor=alice, target_type="provider_key", target_id=7)
    forged = insert_copy(genuine.pk, mac="0" * 64, action="provider_key.deleted")

    def marks(query: str = "") -> dict[str, str]:
        body = alice_browser.get(f"/settings/activity/?{query}").content.decode()
        marked = {}
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):  # the last cell is the integrity
            action = re.search(r"<code>(provider_key\.\w+)</code>", row)
            if action:
                marked[action.group(1)] = re.sub(r"<[^>]+>", "", re.findall(r"<td>(.*?)</td>", row, re.S)[-1]).strip()
        return marked

    assert marks() == {"provider_key.created": "pending", "provider_key.deleted": "forged"}
    assert (
        '<strong class="status status-invalid">forged</strong>'
        in alice_browser.get("/settings/activity/").content.decode()
    )
    assert marks("integrity=forged") == {"provider_key.deleted": "forged"}
    audit_chain_seal()
    assert marks() == {"provider_key.created": "sealed", "provider_key.deleted": "forged"}
    assert marks("integrity=sealed") == {"provider_key.created": "sealed"}
    assert (
        alice_browser.get("/settings/activity/?integrity=genuine").status_code == 200
    )  # an unknown choice: the form's error
    assert forged


def test_under_asgi_the_export_streams_as_it_does_under_wsgi(alice, trail):
    # apps.core.streaming: Django's ASGI handler would read a synchronous iterator whole first.
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    client.force_login(alice)

    async def read() -> tuple[bool, str]:
        response = await client.get("/settings/activity/export/?format=csv")
        return response.is_async, b"".join([part async for part in response]).decode()

    is_async, text = async_to_sync(read)()
    assert is_async
    assert [row["action"] for row in csv.DictReader(io.StringIO(text))].count("provider_key.created") == 1
