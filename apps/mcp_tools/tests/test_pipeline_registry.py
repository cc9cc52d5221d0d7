"""The registry: one registration is all a new tool needs; bad registrations fail at import time, and a
schema that is not valid JSON Schema fails the system checks (`manage.py check`, `migrate`, the gate)."""

from __future__ import annotations

import pytest
from django.core import checks

from apps.mcp_tools.models import ToolCall, ToolPolicy
from apps.mcp_tools.pipeline import registry
from apps.mcp_tools.pipeline.registry import ToolSpec, tool, tool_register
from apps.mcp_tools.tests.pipeline_helpers import invoke, pat_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_a_new_tool_is_one_registration(scratch_registry, alice, alice_client):
    @tool(
        name="echo_upper",
        title="Echo in capitals",
        description="Say it louder.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {"text": {"type": "string", "maxLength": 20}},
            "required": ["text"],
        },
        output_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        required_scope="ai:invoke",
        read_only=True,
        open_world=True,
    )
    def echo_upper(principal, *, text: str) -> dict:
        return {"text": text.upper()}

    assert not ToolPolicy.objects.filter(tool_name="echo_upper").exists()
    assert "echo_upper" in [item["name"] for item in alice_client.get("/api/mcp/tools").json()]
    response = invoke(alice_client, "echo_upper", {"text": "hi"})
    assert response.status_code == 200
    assert response.json()["result"] == {"text": "HI"}
    assert ToolPolicy.objects.get(tool_name="echo_upper").required_scope == "ai:invoke"
    assert invoke(alice_client, "echo_upper", {"text": "x" * 21}).status_code == 400
    assert invoke(pat_client(alice, scopes=["todos:read"]), "echo_upper", {"text": "hi"}).status_code == 403
    assert ToolCall.objects.filter(tool_name="echo_upper").count() == 3


def _spec(**overrides) -> ToolSpec:
    values = {
        "name": "scratch",
        "title": "Scratch",
        "description": "",
        "input_schema": {"type": "object", "additionalProperties": False, "properties": {}},
        "output_schema": None,
        "annotations": {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False},
        "required_scope": "todos:read",
        "func": lambda principal: {},
    }
    values.update(overrides)
    return ToolSpec(**values)


def test_a_name_can_be_registered_only_once(scratch_registry):
    tool_register(_spec())
    with pytest.raises(ValueError, match="already registered"):
        tool_register(_spec())


@pytest.mark.parametrize(
    "overrides",
    [
        {"required_scope": "todos:everything"},
        {"annotations": {"readOnlyHint": True}},
        {"input_schema": {"type": "object", "properties": {}}},
        {"output_schema": {"type": "array"}},
    ],
)
def test_a_malformed_registration_is_refused(scratch_registry, overrides):
    with pytest.raises(ValueError):
        tool_register(_spec(**overrides))


def test_every_registered_schema_is_valid_json_schema():
    assert registry.schema_errors() == []
    assert not [message for message in checks.run_checks() if message.id == "mcp_tools.E001"]


def test_a_schema_that_is_not_json_schema_fails_the_system_checks(scratch_registry):
    bad = {"type": "object", "additionalProperties": False, "properties": {"x": {"type": "nope"}}}
    tool_register(_spec(input_schema=bad))
    messages = [message for message in checks.run_checks() if message.id == "mcp_tools.E001"]
    assert [message.msg for message in messages] == [
        "Tool 'scratch': the input schema is not valid JSON Schema: 'nope' is not valid under any of the given schemas"
    ]
    assert messages[0].level == checks.ERROR
