"""Tool arguments checked before a tool runs: a JSON object, not nested too deeply, not too large,
no NUL characters, and valid against the tool's input schema."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from apps.core.errors import InvalidInput
from apps.mcp_tools.pipeline.registry import ToolSpec

MAX_SCHEMA_ERRORS = 20
MAX_ERROR_MESSAGE = 300
MAX_ARGUMENT_DEPTH = 32


def arguments_checked(spec: ToolSpec, arguments: object) -> dict[str, Any]:
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise InvalidInput(
            "Tool arguments must be a JSON object.",
            details={"errors": [{"path": "", "message": "Expected an object."}]},
        )
    # Shape first, without recursion: a deeply nested payload must not blow the stack of json or jsonschema.
    depth, has_nul = _shape(arguments)
    if depth > MAX_ARGUMENT_DEPTH:
        raise InvalidInput(
            f"Tool arguments are nested too deeply (more than {MAX_ARGUMENT_DEPTH} levels).",
            details={"errors": [{"path": "", "message": f"Nesting deeper than {MAX_ARGUMENT_DEPTH} levels."}]},
        )
    try:
        size = len(json.dumps(arguments, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidInput("Tool arguments must be plain JSON.") from None
    if size > settings.MCP_MAX_ARGUMENT_BYTES:
        raise InvalidInput(
            f"Tool arguments are too large ({size} bytes; the limit is {settings.MCP_MAX_ARGUMENT_BYTES}).",
            code="arguments_too_large",
            details={"size": size, "limit": settings.MCP_MAX_ARGUMENT_BYTES},
        )
    if has_nul:
        # PostgreSQL cannot store NUL in text; refusing here beats a database error deep in a service.
        raise InvalidInput(
            "Tool arguments may not contain NUL characters.",
            details={"errors": [{"path": "", "message": "NUL (\\u0000) is not allowed in text."}]},
        )
    errors = sorted(spec.validator.iter_errors(arguments), key=lambda error: list(error.absolute_path))
    if errors:
        raise InvalidInput(
            f"The arguments do not match the input schema of {spec.name!r}.",
            details={
                "errors": [
                    {
                        "path": "/".join(str(part) for part in error.absolute_path),
                        "message": error.message[:MAX_ERROR_MESSAGE],
                        "validator": str(error.validator),
                    }
                    for error in errors[:MAX_SCHEMA_ERRORS]
                ]
            },
        )
    return arguments


def _shape(value: object) -> tuple[int, bool]:
    """(nesting depth, whether any key or string holds NUL), walked with an explicit stack."""
    depth, has_nul = 0, False
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > MAX_ARGUMENT_DEPTH + 1:
            return level, has_nul
        if isinstance(item, str):
            has_nul = has_nul or "\x00" in item
        elif isinstance(item, dict):
            depth = max(depth, level)
            for key, child in item.items():
                has_nul = has_nul or (isinstance(key, str) and "\x00" in key)
                stack.append((child, level + 1))
        elif isinstance(item, list):
            depth = max(depth, level)
            stack.extend((child, level + 1) for child in item)
    return depth, has_nul
