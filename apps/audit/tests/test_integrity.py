"""Every reader of the trail (the API's list, the exports, the admin) marks each event sealed, pending or
forged, from one function: a row a database user wrote never reads like one the application wrote,
before or after the sealer has run."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client

from apps.audit.chain import audit_chain_seal
from apps.audit.services import audit_event_record
from apps.audit.tests.conftest import insert_copy, sql
from conftest import client_for

pytestmark = pytest.mark.django_db

ADMIN_LIST = "/admin/audit/auditevent/"


@pytest.fixture
def trail(alice):
    """A genuine sign-in, the same MAC copied onto a failed one, and an event with a made-up MAC."""
    genuine = audit_event_record(action="auth.login", actor=alice, target_type="user", target_id=alice.pk)
    rewritten = insert_copy(genuine.pk, outcome="failure", error_code="invalid_credentials")
    invented = insert_copy(genuine.pk, mac="0" * 64, action="auth.logout")
    return {"genuine": genuine.pk, "rewritten": rewritten, "invented": invented}


def _api_marks(client, query: str = "") -> dict[int, str]:
    response = client.get(f"/api/audit/logs{query}")
    assert response.status_code == 200, response.content
    return {row["id"]: row["integrity"] for row in response.json()["logs"]}


def _export(client, export_format: str, query: str = "") -> str:
    response = client.get(f"/api/audit/export?format={export_format}{query}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def _csv_marks(client) -> dict[int, str]:
    rows = list(csv.DictReader(io.StringIO(_export(client, "csv"))))
    return {int(row["id"]): row["integrity"] for row in rows}


def _ndjson_marks(client) -> dict[int, str]:
    lines = [json.loads(line) for line in _export(client, "ndjson").splitlines()]
    return {line["id"]: line["integrity"] for line in lines}


def _admin_marks(user, query: str = "") -> dict[int, str]:
    """Each changelist row's event id (from its change link) and its integrity cell."""
    browser = Client()
    browser.force_login(user)
    page = browser.get(ADMIN_LIST + query)
    assert page.status_code == 200
    marks = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page.content.decode(), re.S):
        link = re.search(r'href="/admin/audit/auditevent/(\d+)/change/', row)
        cell = re.search(r'<td class="field-integrity">(.*?)</td>', row, re.S)
        if link and cell:
            marks[int(link.group(1))] = re.sub(r"<[^>]+>", "", cell.group(1)).strip()
    return marks


def _every_reader(user, ids) -> list[dict[int, str]]:
    """The marks of these events in each reader (signing the reader in records events of its own)."""
    client = client_for(user)
    readers = [_api_marks(client), _csv_marks(client), _ndjson_marks(client), _admin_marks(user)]
    return [{pk: mark for pk, mark in marks.items() if pk in ids} for marks in readers]


def test_a_row_inserted_by_hand_is_marked_forged_everywhere_before_and_after_the_sealer(trail, audrey):
    expected = {trail["genuine"]: "pending", trail["rewritten"]: "forged", trail["invented"]: "forged"}
    for marks in _every_reader(audrey, expected):
        assert marks == expected

    audit_chain_seal()  # the genuine one sealed (with the readers' sign-ins), the two others set aside

    expected[trail["genuine"]] = "sealed"
    for marks in _every_reader(audrey, expected):
        assert marks == expected


def test_the_admin_shows_a_forged_row_in_bold_and_on_its_page(trail, audrey):
    browser = Client()
    browser.force_login(audrey)
    assert "<strong>forged</strong>" in browser.get(ADMIN_LIST).content.decode()
    page = browser.get(f"{ADMIN_LIST}{trail['invented']}/change/").content.decode()
    assert "<strong>forged</strong>" in page


def test_a_row_inserted_with_a_seq_and_hash_of_its_own_is_forged_not_sealed(alice, audrey):
    genuine = audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=1)
    audit_chain_seal()
    # Content and MAC copied from the genuine row (so the MAC verifies), a place in the chain made up.
    copied = insert_copy(genuine.pk, seq=1000, prev_hash="0" * 64, hash="a" * 64)
    expected = {genuine.pk: "sealed", copied: "forged"}
    for marks in _every_reader(audrey, expected):
        assert marks == expected


def test_a_sealed_row_edited_in_place_is_forged_and_one_sealed_before_macs_existed_is_sealed(alice, audrey):
    edited = audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=1)
    macless = audit_event_record(action="todo.created", actor=alice, target_type="todo", target_id=2)
    audit_chain_seal()
    sql("UPDATE audit_auditevent SET target_id = '3' WHERE id = %s", [edited.pk])
    # (Events sealed before MACs existed have none: the chain alone vouches for them, as for the verifier.)
    sql("UPDATE audit_auditevent SET mac = '', mac_key_version = '' WHERE id = %s", [macless.pk])
    expected = {edited.pk: "forged", macless.pk: "sealed"}
    for marks in _every_reader(audrey, expected):
        assert marks == expected


def test_auditors_filter_the_list_and_the_export_by_integrity(trail, audrey):
    client = client_for(audrey)
    forged = {trail["rewritten"]: "forged", trail["invented"]: "forged"}
    # Before the sealer has run, the unsealed events' MACs tell forged from pending.
    assert _api_marks(client, "?integrity=forged") == forged
    pending = _api_marks(client, "?integrity=pending")
    assert trail["genuine"] in pending and set(pending.values()) == {"pending"}
    assert _api_marks(client, "?integrity=sealed") == {}
    assert client.get("/api/audit/logs?integrity=forged").json()["total_count"] == 2
    lines = [json.loads(line) for line in _export(client, "ndjson", "&integrity=forged").splitlines()]
    assert {line["id"] for line in lines} == set(forged)

    audit_chain_seal()

    assert _api_marks(client, "?integrity=forged") == forged
    assert set(_api_marks(client, "?integrity=pending").values()) <= {"pending"}  # the readers' own sign-ins
    sealed = _api_marks(client, "?integrity=sealed")
    assert trail["genuine"] in sealed and set(sealed.values()) == {"sealed"}
    assert _admin_marks(audrey, "?integrity=forged") == forged
    assert set(_admin_marks(audrey, "?integrity=sealed").values()) == {"sealed"}
    browser = Client()
    browser.force_login(audrey)
    counted = browser.get(ADMIN_LIST + "?_facets=True").content.decode()  # the admin's "Show counts"
    assert re.search(r"forged\s*\(2\)", counted)
    assert client.get("/api/audit/logs?integrity=genuine").status_code == 400


def test_a_user_sees_the_marks_of_her_own_events_only(trail, alice_client, bob_client):
    assert set(_api_marks(alice_client)) >= set(trail.values())
    assert _api_marks(bob_client, "?integrity=forged") == {}


def test_marking_a_page_costs_no_query_per_row(alice, audrey):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(audrey)
    genuine = audit_event_record(action="todo.created", actor=alice)
    insert_copy(genuine.pk, mac="0" * 64)
    client.get("/api/audit/logs")  # the first request also finds the caller's roles, cached after
    with CaptureQueriesContext(connection) as few:
        client.get("/api/audit/logs")
    for n in range(20):
        audit_event_record(action="todo.updated", actor=alice, target_id=n)
        insert_copy(genuine.pk, mac="0" * 64, target_id=str(n))
    audit_chain_seal()
    with CaptureQueriesContext(connection) as many:
        marks = _api_marks(client)
    assert len(marks) >= 42 and set(marks.values()) == {"sealed", "forged"}
    assert len(many.captured_queries) == len(few.captured_queries)
