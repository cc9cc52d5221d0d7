"""The OpenAPI schema describes the API as it answers: shapes, error responses per status, scope names.

The last test fuzzes every operation with schemathesis (through Django's WSGI handler, in the test's
transaction) as a user (alice) and as an operator (olivia), each with a real JWT, and runs every
check schemathesis has on every answer: no 5xx, only documented statuses, documented content types,
bodies and headers, schema-invalid input refused, schema-valid input accepted, credentials required.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.scopes import SCOPES
from apps.keys.services import provider_key_create
from apps.providers.tests.conftest import fake_provider  # noqa: F401 - shared fixture
from apps.providers.tests.keys import openai_key
from apps.todos.services import todo_create

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def openapi(client) -> dict:
    response = client.get(SCHEMA_URL, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def _json_schema(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def test_the_todo_list_is_described_as_a_page(openapi):
    ok = openapi["paths"]["/api/todos/"]["get"]["responses"]["200"]
    page = openapi["components"]["schemas"][_json_schema(ok)["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Todo"}


def test_the_key_list_is_described_as_its_envelope(openapi):
    ok = openapi["paths"]["/api/api-keys/"]["get"]["responses"]["200"]
    assert _json_schema(ok) == {"$ref": "#/components/schemas/ProviderKeyListResponse"}
    envelope = openapi["components"]["schemas"]["ProviderKeyListResponse"]
    assert set(envelope["properties"]) == {"success", "keys"}


def test_every_operation_documents_errors_in_the_one_error_shape(openapi):
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    error = openapi["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    detail = openapi["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "details"}
    for method, path, operation in _operations(openapi):
        responses = operation["responses"]
        errors = {int(status) for status in responses if int(status) >= 400}
        assert {429, 503} <= errors, (method, path)
        if operation.get("security") not in (None, [], [{}]):
            assert {401, 403} <= errors, (method, path)
        if "requestBody" in operation:
            assert {400, 413, 415} <= errors, (method, path)
        if "{" in path:
            assert 404 in errors, (method, path)
        for status in errors:
            assert responses[str(status)]["content"] == {"application/json": {"schema": error_ref}}, (method, path)
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_statuses_only_some_operations_answer_are_documented_there(openapi):
    paths = openapi["paths"]
    assert {"409", "422"} <= set(paths["/api/api-keys/"]["post"]["responses"])
    assert {"404", "409"} <= set(paths["/api/mcp/tools/invoke"]["post"]["responses"])
    assert "401" in paths["/api/auth/token"]["post"]["responses"]
    assert "403" in paths["/api/auth/register"]["post"]["responses"]
    assert "404" in paths["/api/todos/"]["get"]["responses"]  # a page past the last


def test_scope_names_are_an_enum_a_client_can_create_a_token_with(openapi):
    body = openapi["paths"]["/api/auth/tokens"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request = openapi["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    items = request["properties"]["scopes"]["items"]
    if "$ref" in items:
        items = openapi["components"]["schemas"][items["$ref"].rsplit("/", 1)[1]]
    assert sorted(items["enum"]) == sorted(SCOPES)


def _resolved(openapi: dict, schema: dict) -> dict:
    """A schema with its reference followed (also the `allOf: [ref]` a described field is written as)."""
    if len(schema.get("allOf", [])) == 1:
        schema = schema["allOf"][0]
    return openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema


def test_every_audit_event_is_described_with_its_integrity_and_the_readers_filter_by_it(openapi):
    """A client reading the trail is told each event's integrity and can ask for the forged ones."""
    ok = openapi["paths"]["/api/audit/logs"]["get"]["responses"]["200"]
    page = _resolved(openapi, _json_schema(ok))
    event = _resolved(openapi, page["properties"]["logs"]["items"])
    assert "integrity" in event["required"]
    assert sorted(_resolved(openapi, event["properties"]["integrity"])["enum"]) == ["forged", "pending", "sealed"]
    for path in ("/api/audit/logs", "/api/audit/export"):
        (parameter,) = [p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == "integrity"]
        assert sorted(_resolved(openapi, parameter["schema"])["enum"]) == ["forged", "pending", "sealed"]


def _served_schema() -> dict:
    """The document /api/schema/ serves, generated without a request (collection may not touch the database)."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    # A view drf-spectacular cannot read (a guessed type, an unresolvable serializer) is a warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_fuzzed_schema_is_the_served_one(openapi):
    assert _served_schema() == openapi


# Requests go through Django's WSGI handler in the test's own thread, so they see the test's transaction.
# (schemathesis.pytest.from_fixture would load it lazily, but its lazy runner fails on pytest 9's nodes.)
# Bounded: the fuzzing phase (max_examples per operation, valid and invalid data) without the coverage phase's
# exhaustive boundary cases, so the run takes seconds, not minutes.
# Schema-valid data must be accepted, except where a rule no schema can state refuses it with 400: a
# refresh token that is not one of ours (logout), a password the strength rules refuse (register).
BUSINESS_RULE_REFUSALS = ["/api/auth/logout", "/api/auth/register"]
ACCEPTED_OR_RULE_REFUSED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
schema = schemathesis.openapi.from_dict(
    _served_schema(),
    config=schemathesis.Config.from_dict(
        {
            "phases": {"coverage": {"enabled": False}},
            "operations": [
                {
                    "include-path": path,
                    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_RULE_REFUSED}},
                }
                for path in BUSINESS_RULE_REFUSALS
            ],
        }
    ),
)
schema.app = get_wsgi_application()
schema.location = SCHEMA_URL


@pytest.fixture
def keep_test_connection(db):
    # As Django's test client does: a finished request must not close the connection holding the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=["user", "operator"])
def fuzz_target(request, settings, keep_test_connection, fake_provider):  # noqa: F811 - the imported fixture
    """A user (alice) or an operator (olivia) with one todo and one stored key, so detail operations are also
    tried on objects that exist; the operator's answers (everyone's audit trail, reports) differ in shape.

    Live key validation goes to the loopback fake provider, which knows the persona's key and refuses any other.
    """
    persona = request.getfixturevalue("alice" if request.param == "user" else "olivia")
    settings.MCP_RATE_LIMIT_DEFAULT = "100000/minute"
    todo = todo_create(owner=persona, title="fuzz me")
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)
    key, _ = provider_key_create(actor=persona, owner=persona, provider="openai", api_key=api_key)
    return {
        "headers": {"Authorization": f"Bearer {RefreshToken.for_user(persona).access_token}"},
        "ids": {"/api/todos/": todo.pk, "/api/api-keys/": key.pk},
    }


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_the_schema_says(case, fuzz_target):
    case.call_and_validate(headers=fuzz_target["headers"])
    path_parameters = case.path_parameters or {}
    for prefix, object_id in fuzz_target["ids"].items():
        if "id" in path_parameters and case.path.startswith(prefix):
            # The same request on an object that exists, so the success answers are held to the schema too.
            case.path_parameters = {**path_parameters, "id": object_id}
            case.call_and_validate(headers=fuzz_target["headers"])
