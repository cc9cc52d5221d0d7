"""What the API refuses, as its OpenAPI schema says it does: page numbers, text fields, empty filters,
unknown fields, and the media types the audit export sends.

Fast, direct versions of what the schemathesis run (test_api_contract.py) finds by fuzzing.
"""

from __future__ import annotations

import pytest

from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db

PAGED_LISTS = ["/api/todos/", "/api/notifications"]


@pytest.fixture
def openapi(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.mark.parametrize("path", PAGED_LISTS)
@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "page=abc", "page=", "page=1.5", "page=last", "page_size=null", "page_size=0", "page_size="],
)
def test_a_page_parameter_that_is_not_a_whole_number_from_1_is_400_on_every_paged_list(alice_client, path, query):
    response = alice_client.get(f"{path}?{query}")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [query.split("=")[0]]


@pytest.mark.parametrize("path", PAGED_LISTS)
def test_every_paged_list_answers_and_documents_404_past_the_last_page(alice, alice_client, openapi, path):
    todo_create(owner=alice, title="one")

    assert alice_client.get(f"{path}?page=1&page_size=1000").status_code == 200  # a large size is capped
    assert alice_client.get(f"{path}?page=9").status_code == 404
    operation = openapi["paths"][path]["get"]
    assert {"400", "404"} <= set(operation["responses"])
    parameters = {p["name"]: p["schema"] for p in operation["parameters"] if p["name"].startswith("page")}
    assert parameters == {"page": {"type": "integer", "minimum": 1}, "page_size": {"type": "integer", "minimum": 1}}


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "tags": [0]},
        {"title": "x", "tags": ["ok", True]},
        {"title": 5},
        {"title": "x", "description": 1.5},
    ],
)
def test_a_number_where_text_belongs_is_refused_not_turned_into_text(alice_client, body):
    response = alice_client.post("/api/todos/", body, format="json")

    assert response.status_code == 400, response.content
    assert "Not a valid string." in str(response.json()["error"]["details"])


def test_text_is_still_accepted_as_text(alice_client):
    response = alice_client.post("/api/todos/", {"title": "x", "tags": ["home"]}, format="json")

    assert response.status_code == 201 and response.json()["tags"] == ["home"]


@pytest.mark.parametrize("query", ["tag=", "search=", "due_before=", "status=", "ordering=", "overdue="])
def test_a_todo_filter_given_without_a_value_is_400(alice_client, query):
    response = alice_client.get(f"/api/todos/?{query}")

    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["details"]) == [query.rstrip("=")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/chat", {"messages": [{"role": "user", "content": "hi"}], "provder": "anthropic"}),
        ("post", "/api/chat", {"messages": [{"role": "user", "content": "hi", "name": "x"}]}),
        ("put", "/api/ai/preferences", {"provider_ordr": ["openai"]}),
        ("put", "/api/ai/preferences", {"models": {"openai": 5}}),
    ],
)
def test_every_request_body_refuses_unknown_fields_and_non_text(alice_client, method, path, body):
    response = getattr(alice_client, method)(path, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


def test_every_request_body_says_it_refuses_unknown_fields(openapi):
    components = openapi["components"]["schemas"]
    checked = set()
    for item in openapi["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert components[ref]["additionalProperties"] is False, ref
            checked.add(ref)
    # Nested request objects too (a chat message).
    assert components["ChatInMessageRequest"]["additionalProperties"] is False
    assert {"TodoWriteRequest", "PatchedTodoWriteRequest", "ChatRequestRequest", "ToolInvokeRequest"} <= checked


def test_the_audit_export_documents_the_media_types_it_sends(openapi, olivia_client):
    documented = set(openapi["paths"]["/api/audit/export"]["get"]["responses"]["200"]["content"])
    sent = {
        olivia_client.get(f"/api/audit/export?format={fmt}")["Content-Type"].split(";")[0] for fmt in ("csv", "ndjson")
    }

    assert documented == sent == {"text/csv", "application/x-ndjson"}
