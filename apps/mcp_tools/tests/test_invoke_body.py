"""REST invoke's plain-body shortcut gives exactly what ToolInvokeSerializer gives, and only where it agrees."""

from __future__ import annotations

import pytest

from apps.mcp_tools.api import _invoke_body_plain
from apps.mcp_tools.serializers import ToolInvokeSerializer

BODIES = [
    {"tool_name": "todo_overview", "parameters": {}},
    {"tool_name": "todo_overview"},
    {"tool_name": "list_todos", "parameters": {"status": "open", "tags": ["a"]}},
    {"tool_name": "x" * 100, "parameters": {}},
    {"tool_name": "x" * 101, "parameters": {}},
    {"tool_name": "", "parameters": {}},
    {"tool_name": " todo_overview", "parameters": {}},
    {"tool_name": "todo_overview\n"},
    {"tool_name": "\u00a0todo"},
    {"tool_name": "todo\x00"},
    {"tool_name": "todo\ud800"},
    {"tool_name": "tödö_øverview"},
    {"tool_name": "todo_overview", "parameters": None},
    {"tool_name": "todo_overview", "parameters": []},
    {"tool_name": "todo_overview", "parameters": "text"},
    {"tool_name": 5, "parameters": {}},
    {"tool_name": True},
    {"tool_name": None},
    {"parameters": {}},
    {"tool_name": "todo_overview", "user_id": 3},
    {"tool_name": "todo_overview", "extra": 1},
    ["tool_name"],
    "todo_overview",
    None,
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_shortcut_agrees_with_the_serializer(body):
    serializer = ToolInvokeSerializer(data=body)
    valid = serializer.is_valid()
    plain = _invoke_body_plain(body)
    if plain is not None:
        assert valid, serializer.errors
        assert plain == dict(serializer.validated_data)
    # The common body takes the shortcut; what it leaves to the serializer keeps its answers.
    if body in ({"tool_name": "todo_overview", "parameters": {}}, {"tool_name": "todo_overview"}):
        assert plain is not None


def test_a_missing_parameters_object_is_a_new_one_each_time():
    first, second = _invoke_body_plain({"tool_name": "a"}), _invoke_body_plain({"tool_name": "a"})
    assert first["parameters"] == {} and first["parameters"] is not second["parameters"]
